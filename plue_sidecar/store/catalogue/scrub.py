"""The scrub: after start, compare each document taken from the catalogue (not read
from its file) with its file, in the background, and rewrite a file that rotted in
place from the verified copy.

The catalogue trusts a quiet directory whole, so a document changed in place (a bit
flip, a tool that edits instead of replacing) would otherwise be served from the
catalogue's copy while its file stays damaged, and be lost with the catalogue. Each
catalogue row carries its document's checksum: a row that matches it is the verified
copy. A file is compared only while the session's document is unchanged and written
(the checks run on the event loop before and after the read), so a file rewritten by a
checkpoint meanwhile is never mistaken for damage. The scrub reads one document at a
time on a thread of its own and pauses between documents: requests never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable

import orjson

from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue.catalogue import Checksums
from plue_sidecar.store.files.documents import document_bytes, document_from_fields
from plue_sidecar.store.files.session_files import SessionFiles

log = logging.getLogger(__name__)
PAUSE_SECONDS = 0.002
"""Between two documents: a scrub of 10,000 documents takes about half a minute."""


class Scrub:
    def __init__(
        self,
        files: SessionFiles,
        current: Callable[[str], Session | None],
        repair: Callable[[str, Session, str], Awaitable[None]],
    ) -> None:
        self._files = files
        self._current = current
        """The session's document while memory and its file agree, else None."""
        self._repair = repair

    async def run(self, unverified: Checksums) -> None:
        # Not copied: nothing changes it once the load is over.
        for session_id, checksum in unverified.items():
            await asyncio.sleep(PAUSE_SECONDS)
            document = self._current(session_id)
            if document is None:
                continue
            problem = await asyncio.to_thread(self._examine, session_id, document, checksum)
            if problem is not None and self._current(session_id) is document:
                log.error(
                    "%s: its document was damaged on disk (%s); rewriting it", session_id, problem
                )
                await self._repair(session_id, document, problem)

    def _examine(self, session_id: str, document: Session, checksum: int) -> str | None:
        """What is wrong with the file, if anything."""
        expected = document_bytes(document)
        if zlib.crc32(expected) != checksum:
            log.error("%s: the catalogue's copy fails its checksum; its file is kept", session_id)
            return None
        data = self._files.read_document_bytes(session_id)
        if data is None:
            return "missing"
        if data == expected:
            return None
        try:
            read = document_from_fields(orjson.loads(data), session_id)
        except orjson.JSONDecodeError:
            return "not valid JSON"
        if read.session is None:
            return read.problem
        return "its content differs from the verified copy"
