"""Content-Length framing: a pure, incremental splitter from bytes to frames.

The splitter never blocks and never raises on bad input: it returns events. A broken
header is reported and the splitter resynchronises at the next `Content-Length:`
header; a frame above the size limit is skipped without being buffered whole, and
reported as soon as its id is known (found in its first bytes, or known to be absent).
"""

from __future__ import annotations

import enum
import json.decoder
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

import orjson

HEADER_END = b"\r\n\r\n"
CONTENT_LENGTH = b"content-length"
MAX_HEADER_BYTES = 8192
MAX_LENGTH_DIGITS = 18
"""Longer `Content-Length` values are broken headers: no pipe carries an exabyte, and
Python refuses to convert more than 4300 digits at all."""
ID_PREFIX_BYTES = 64 * 1024

_HEADER_LINE = re.compile(rb"^([A-Za-z0-9-]+):[ \t]*(.*?)[ \t]*$")
_CONTENT_LENGTH_AHEAD = re.compile(rb"content-length:", re.IGNORECASE)


# Named tuples, not frozen dataclasses: as immutable, and about a tenth of the cost to
# define, which every start pays.


class Frame(NamedTuple):
    """A complete body."""

    body: bytes


class OversizedFrame(NamedTuple):
    """A body above the limit, being skipped; `request_id` is its id as JSON text, if any.

    Reported once per frame, before the bytes that follow the frame.
    """

    size: int
    request_id: bytes | None


class BrokenHeader(NamedTuple):
    """Bytes that were not a valid header and were skipped."""

    reason: str
    skipped: int


FrameEvent = Frame | OversizedFrame | BrokenHeader


class FrameSplitter:
    """Feed it bytes as they arrive; it returns the events they complete."""

    def __init__(self, max_frame_bytes: int) -> None:
        self._max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._body_length: int | None = None
        self._skip_remaining = 0
        self._skip_size = 0
        # The skipped body's first bytes while its id is still unknown; None once reported.
        self._skip_prefix: bytearray | None = None
        self._next_id_scan = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        if self._skip_remaining:
            data = self._consume_skipped(data, events)
        self._buffer += data
        while not self._skip_remaining:
            if self._body_length is None:
                if not self._buffer or not self._read_header(events):
                    break
                continue
            if len(self._buffer) < self._body_length:
                break
            length = self._body_length
            events.append(Frame(bytes(self._buffer[:length])))
            del self._buffer[:length]
            self._body_length = None
        return events

    def _consume_skipped(self, data: bytes, events: list[FrameEvent]) -> bytes:
        taken = data[: self._skip_remaining]
        self._skip_remaining -= len(taken)
        if self._skip_prefix is not None:
            self._skip_prefix += taken[: ID_PREFIX_BYTES - len(self._skip_prefix)]
            self._report_oversized_once_id_known(events)
        return data[len(taken) :]

    def _report_oversized_once_id_known(self, events: list[FrameEvent]) -> None:
        prefix = self._skip_prefix
        assert prefix is not None
        last_chance = self._skip_remaining == 0 or len(prefix) >= ID_PREFIX_BYTES
        if not last_chance and len(prefix) < self._next_id_scan:
            return
        # Each scan starts over from the first byte: scanning again only once the prefix
        # has doubled keeps the work linear however small the pieces it arrives in.
        self._next_id_scan = max(2 * len(prefix), 256)
        known, request_id = first_request_id(bytes(prefix))
        if known or last_chance:
            events.append(OversizedFrame(self._skip_size, request_id))
            self._skip_prefix = None

    def _read_header(self, events: list[FrameEvent]) -> bool:
        """Parse one header block; False when more bytes are needed."""
        end = self._buffer.find(HEADER_END, 0, MAX_HEADER_BYTES + len(HEADER_END))
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                self._resync(events, "header too long or missing its blank line")
                return True
            return False
        length, problem, skip_whole_block = _parse_header_block(bytes(self._buffer[:end]))
        if length is None:
            if skip_whole_block:
                del self._buffer[: end + len(HEADER_END)]
                events.append(BrokenHeader(problem, end + len(HEADER_END)))
            else:
                self._resync(events, problem)
            return True
        del self._buffer[: end + len(HEADER_END)]
        if length > self._max_frame_bytes:
            self._start_skipping(length, events)
        else:
            self._body_length = length
        return True

    def _start_skipping(self, length: int, events: list[FrameEvent]) -> None:
        self._skip_size = length
        self._skip_remaining = length
        self._skip_prefix = bytearray()
        self._next_id_scan = 0
        held = bytes(self._buffer)
        self._buffer.clear()
        rest = self._consume_skipped(held, events)
        self._buffer += rest

    def _resync(self, events: list[FrameEvent], reason: str) -> None:
        """Drop bytes up to the next `Content-Length:` after the start of the buffer."""
        match = _CONTENT_LENGTH_AHEAD.search(self._buffer, 1)
        if match is not None:
            skipped = match.start()
        else:
            # Keep a tail that may be the start of a header still arriving.
            skipped = max(1, len(self._buffer) - len(CONTENT_LENGTH))
        del self._buffer[:skipped]
        events.append(BrokenHeader(reason, skipped))


class _HeaderBlock(NamedTuple):
    length: int | None
    problem: str
    skip_whole_block: bool
    """The next `Content-Length:` is in this very block, and no new header."""


def _parse_header_block(block: bytes) -> _HeaderBlock:
    length: int | None = None
    conflicting = False
    for line in block.split(b"\r\n"):
        match = _HEADER_LINE.match(line)
        if match is None:
            return _HeaderBlock(None, f"malformed header line {line[:80]!r}", False)
        name, value = match.group(1).lower(), match.group(2)
        if name == CONTENT_LENGTH:
            if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
                return _HeaderBlock(None, f"invalid Content-Length {value[:40]!r}", False)
            # Equal repeats are harmless; unequal ones make the body's end ambiguous.
            conflicting = conflicting or (length is not None and int(value) != length)
            length = int(value)
    if conflicting:
        return _HeaderBlock(None, "conflicting Content-Length headers", True)
    if length is None:
        return _HeaderBlock(None, "no Content-Length header", False)
    return _HeaderBlock(length, "", False)


def encode_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class _Scan(enum.Enum):
    MORE = "the text ends before the scan could finish"


_ScanResult = bytes | None | _Scan
_STRUCTURAL = re.compile(r'["{}\[\],]')
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_CHARACTERS = re.compile(r"[-+.0-9eE]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_AFTER_VALUE = frozenset(" \t\n\r,}")
# The json module's C string scanner (strict: control characters are errors); typeshed
# does not declare it.
_scan_string: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def find_request_id(body: bytes) -> bytes | None:
    """The top-level `"id"` of a whole JSON body as JSON text, the last if repeated (as
    the parser takes it); None when absent, null, or not a string or number."""
    found: bytes | None = None
    for token in _request_ids(body):
        if token is not _Scan.MORE:
            found = token
    return found


def first_request_id(prefix: bytes) -> tuple[bool, bytes | None]:
    """Whether the first bytes of a body settle its id, and the id as JSON text."""
    for token in _request_ids(prefix):
        if token is _Scan.MORE:
            return False, None
        return True, token
    return True, None


def _request_ids(data: bytes) -> Iterator[_ScanResult]:
    """Each top-level `"id"` value of a JSON object, in order, as exact JSON text.

    Strings are decoded by the json module's own scanner and encoded again, so escapes
    mean what they mean to a parser; numbers are echoed as written, since no Python
    type round-trips every JSON number. Yields None for an id that is neither, and
    `_Scan.MORE` (then stops) where `data` ends before the object does. The scan stops
    at the end of the top-level object: bytes after it belong to no id.
    """
    # Invalid UTF-8 becomes lone surrogates, which no id can be encoded from.
    text = data.decode("utf-8", errors="surrogateescape")
    index = _skip_whitespace(text, 0)
    if index == len(text):
        yield _Scan.MORE
        return
    if text[index] != "{":
        return
    depth = 0
    expecting_key = False
    while True:
        match = _STRUCTURAL.search(text, index)
        if match is None:
            yield _Scan.MORE
            return
        index = match.end()
        char = match.group()
        if char == '"':
            try:
                string, index = _scan_string(text, index, True)
            except ValueError:  # cut short by the end of `data`, or not JSON
                yield _Scan.MORE
                return
            if depth == 1 and expecting_key and string == "id":
                token, index = _id_value(text, index)
                yield token
                if token is _Scan.MORE:
                    return
            expecting_key = False
        elif char in "{[":
            depth += 1
            expecting_key = char == "{" and depth == 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return
        elif depth == 1:  # a comma between members
            expecting_key = True


def _id_value(text: str, index: int) -> tuple[_ScanResult, int]:
    """The value after an `"id"` key: its JSON text and the index after it."""
    index = _skip_whitespace(text, index)
    if index == len(text):
        return _Scan.MORE, index
    if text[index] != ":":
        return None, index
    index = _skip_whitespace(text, index + 1)
    if index == len(text):
        return _Scan.MORE, index
    if text[index] == '"':
        try:
            value, end = _scan_string(text, index + 1, True)
        except ValueError:
            return _Scan.MORE, index
        try:
            return orjson.dumps(value), end
        except TypeError:  # lone surrogates: invalid UTF-8 or a lone \ud800 escape
            return None, end
    run = _NUMBER_CHARACTERS.match(text, index)
    if run is None:
        return None, index  # null, true, an object...: not an id to answer with
    end = run.end()
    if end == len(text):
        return _Scan.MORE, end  # the number may go on
    if text[end] not in _AFTER_VALUE or _NUMBER.fullmatch(run.group()) is None:
        return None, end
    return run.group().encode(), end


def _skip_whitespace(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match is not None else index
