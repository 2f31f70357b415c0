"""Content-Length framing: a pure, incremental splitter from bytes to frames.

The splitter never blocks and never raises on bad input: it returns events. A broken
header is reported and the splitter resynchronises at the next `Content-Length:`
header; a frame above the size limit is skipped without being buffered whole.
"""

from __future__ import annotations

import re
from typing import NamedTuple

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
    """A body above the limit, skipped; `prefix` is its first bytes, to find its id."""

    size: int
    prefix: bytes


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
        self._skip_prefix = bytearray()

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
        room = ID_PREFIX_BYTES - len(self._skip_prefix)
        if room > 0:
            self._skip_prefix += taken[:room]
        self._skip_remaining -= len(taken)
        if self._skip_remaining == 0:
            events.append(OversizedFrame(self._skip_size, bytes(self._skip_prefix)))
            self._skip_prefix = bytearray()
        return data[len(taken) :]

    def _read_header(self, events: list[FrameEvent]) -> bool:
        """Parse one header block; False when more bytes are needed."""
        end = self._buffer.find(HEADER_END, 0, MAX_HEADER_BYTES + len(HEADER_END))
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                self._resync(events, "header too long or missing its blank line")
                return True
            return False
        length, reason = _parse_header_block(bytes(self._buffer[:end]))
        if length is None:
            self._resync(events, reason)
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


def _parse_header_block(block: bytes) -> tuple[int | None, str]:
    length: int | None = None
    for line in block.split(b"\r\n"):
        match = _HEADER_LINE.match(line)
        if match is None:
            return None, f"malformed header line {line[:80]!r}"
        name, value = match.group(1).lower(), match.group(2)
        if name == CONTENT_LENGTH:
            if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
                return None, f"invalid Content-Length {value[:40]!r}"
            length = int(value)
    if length is None:
        return None, "no Content-Length header"
    return length, ""


def encode_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def find_request_id(prefix: bytes) -> int | str | None:
    """The top-level `"id"` of a JSON object from its first bytes, if it stands there."""
    text = prefix.decode("utf-8", errors="replace")
    depth = 0
    index = 0
    expecting_key = False
    while index < len(text):
        char = text[index]
        if char == '"':
            end = _string_end(text, index)
            if end < 0:
                return None
            if depth == 1 and expecting_key and text[index + 1 : end] == "id":
                return _scalar_after_colon(text, end + 1)
            expecting_key = False
            index = end + 1
            continue
        if char in "{[":
            depth += 1
            expecting_key = char == "{" and depth == 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 1:
            expecting_key = True
        index += 1
    return None


def _string_end(text: str, start: int) -> int:
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index
        index += 1
    return -1


_SCALAR_ID = re.compile(r'\s*:\s*(-?\d+|"((?:[^"\\]|\\.)*)")')


def _scalar_after_colon(text: str, start: int) -> int | str | None:
    match = _SCALAR_ID.match(text, start)
    if match is None:
        return None
    if match.group(2) is not None:
        return match.group(2)
    return int(match.group(1))
