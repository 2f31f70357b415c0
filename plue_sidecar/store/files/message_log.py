"""Reading a session's append-only message log, and deciding what of it to trust; and
a session rebuilt from its log alone, when its document is gone and no verified copy of
it is left: a conversation is never dropped for want of its metadata."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from plue_sidecar.models.fast_json import JsonObject, message_record_json
from plue_sidecar.models.parts import TextPart
from plue_sidecar.models.records import MessageRecord, Session
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION

log = logging.getLogger(__name__)
RECOVERED_TITLE = "Recovered session"
TITLE_LIMIT = 200


@dataclass
class LogContents:
    """What a message log holds that can be trusted.

    `keep_bytes` is the length of the trusted prefix: a torn or unacknowledged tail
    beyond it may be cut. `damage` is set when a record in the middle is bad: the
    session is then served read-only and nothing is cut.
    """

    records: list[MessageRecord] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    """Each record's length in the log, in bytes."""
    keep_bytes: int = 0
    total_bytes: int = 0
    damage: str | None = None

    @property
    def has_droppable_tail(self) -> bool:
        return self.damage is None and self.keep_bytes < self.total_bytes


def parse_log(data: bytes, session_id: str, acknowledged: int | None) -> LogContents:
    """Parse records 1..`acknowledged`; anything after is an unacknowledged tail. With
    `acknowledged` None (a log without its session, which counts nothing) every whole
    record is taken and none is missing."""
    contents = LogContents(total_bytes=len(data))
    offset = 0
    while offset < len(data):
        end = data.find(b"\n", offset)
        if end < 0:
            torn = len(data) - offset
            log.warning("%s: dropping a torn last record (%d bytes)", session_id, torn)
            break
        record = _parse_record(data[offset:end], session_id, len(contents.records) + 1)
        if record is None:
            if data.find(b"\n", end + 1) < 0 and end + 1 >= len(data):
                log.warning("%s: dropping an invalid last record", session_id)
                break
            contents.damage = f"record {len(contents.records) + 1} of the message log is invalid"
            log.error("%s: %s; serving the session read-only", session_id, contents.damage)
            break
        if acknowledged is not None and record.seq > acknowledged:
            log.warning("%s: dropping unacknowledged message seq %d", session_id, record.seq)
            break
        contents.records.append(record)
        contents.sizes.append(end + 1 - offset)
        offset = end + 1
        contents.keep_bytes = offset
    if (
        contents.damage is None
        and acknowledged is not None
        and len(contents.records) < acknowledged
    ):
        contents.damage = (
            f"message log holds {len(contents.records)} of {acknowledged} acknowledged messages"
        )
        log.error("%s: %s; serving the session read-only", session_id, contents.damage)
    return contents


def _parse_record(line: bytes, session_id: str, expected_seq: int) -> MessageRecord | None:
    try:
        record = MessageRecord.model_validate(orjson.loads(line))
    except (orjson.JSONDecodeError, ValidationError):
        return None
    if record.session_id != session_id or record.seq != expected_seq:
        return None
    return record


def encode_record(record: MessageRecord) -> bytes:
    return encode_record_json(message_record_json(record))


def encode_record_json(record_json: JsonObject) -> bytes:
    """A log line, from `message_record_json`."""
    return orjson.dumps(record_json) + b"\n"


def session_from_log(session_id: str, data: bytes) -> Session | None:
    """The session its log describes: titled by its first user message's text (what the
    user asked reads as a title; an assistant's greeting before it does not), timed by
    its first and last messages, counting every whole message (None if it holds none)."""
    records = parse_log(data, session_id, None).records
    if not records:
        return None
    first, last = records[0], records[-1]
    text = next(
        (
            part.text
            for record in records
            if record.role == "user"
            for part in record.parts
            if isinstance(part, TextPart)
        ),
        "",
    )
    title = " ".join(text.split())[:TITLE_LIMIT] or RECOVERED_TITLE
    return Session(
        schema_version=SESSION_SCHEMA_VERSION,
        id=session_id,
        parent_id=None,
        title=title,
        created_at=first.created_at,
        updated_at=last.completed_at or last.created_at,
        message_count=len(records),
        is_aborted=False,
        aborted_at=None,
        runner=None,
        share=None,
    )
