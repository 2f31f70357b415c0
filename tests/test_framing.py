"""The frame splitter, as tables of bytes in and events out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plue_sidecar.rpc.framing import (
    ID_PREFIX_BYTES,
    BrokenHeader,
    Frame,
    FrameSplitter,
    OversizedFrame,
    encode_frame,
    find_request_id,
    first_request_id,
)


def frames_of(events: list[object]) -> list[bytes]:
    return [e.body for e in events if isinstance(e, Frame)]


@pytest.mark.parametrize(
    ("stream", "bodies"),
    [
        (b"Content-Length: 2\r\n\r\n{}", [b"{}"]),
        (b"Content-Length: 2\r\n\r\n{}Co", [b"{}"]),
        (b"content-length:2\r\n\r\n{}", [b"{}"]),
        (b"CONTENT-LENGTH: 2\r\nContent-Type: x\r\n\r\n{}", [b"{}"]),
        (b"Content-Length: 2\r\n\r\n{}Content-Length: 3\r\n\r\n[1]", [b"{}", b"[1]"]),
        (b"Content-Length: 0\r\n\r\n", [b""]),
        (b"Content-Length: 2\r\nContent-Length: 02\r\n\r\n{}", [b"{}"]),
        (b"Content-Length: 4\r\n\r\n{}", []),
    ],
)
def test_well_formed_streams(stream: bytes, bodies: list[bytes]) -> None:
    assert frames_of(FrameSplitter(1000).feed(stream)) == bodies


@pytest.mark.parametrize(
    "garbage",
    [
        b"Content-Length: abc\r\n\r\n",
        b"Content-Length: -1\r\n\r\n",
        b"Content-Length: 2\n\n{}",
        b"Content-Type: a\r\n\r\n",
        b"garbage line\r\n\r\n",
        b"\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n",
        b"Content-Length: " + b"1" * 19 + b"\r\n\r\n",
        b"Content-Length: 2\r\nX-Padding: " + b"p" * 9000 + b"\r\n\r\n",
    ],
)
def test_broken_header_is_reported_and_the_next_frame_still_arrives(garbage: bytes) -> None:
    splitter = FrameSplitter(1000)
    events = splitter.feed(garbage + b"Content-Length: 2\r\n\r\n{}")
    assert any(isinstance(e, BrokenHeader) for e in events)
    assert frames_of(events) == [b"{}"]


def test_a_header_that_never_ends_is_dropped_once_too_long() -> None:
    splitter = FrameSplitter(1000)
    events = splitter.feed(b"x" * 10000)
    assert any(isinstance(e, BrokenHeader) for e in events)
    assert splitter.buffered < 100
    assert frames_of(splitter.feed(b"Content-Length: 2\r\n\r\n{}")) == [b"{}"]


def test_oversized_frame_is_skipped_without_buffering_it() -> None:
    splitter = FrameSplitter(10)
    body = b'{"jsonrpc":"2.0","method":"x","params":{"t":"' + b"a" * 500 + b'"},"id":5}'
    events = splitter.feed(b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
    assert events == []
    assert splitter.buffered == 0
    events = splitter.feed(body[100:] + encode_frame(b"{}"))
    assert events == [OversizedFrame(len(body), b"5"), Frame(b"{}")]


def test_oversized_frame_is_reported_as_soon_as_its_id_is_read() -> None:
    splitter = FrameSplitter(10)
    header = b"Content-Length: %d\r\n\r\n" % (200 * 1024 * 1024)
    assert splitter.feed(header + b'{"jsonrpc":"2.0","id":"a\\"b","params":') == [
        OversizedFrame(200 * 1024 * 1024, b'"a\\"b"'),
    ]
    assert splitter.feed(b"x" * 100_000) == []
    assert splitter.buffered == 0


def test_oversized_frame_without_an_id_in_its_prefix_is_reported_once_the_prefix_is_read() -> None:
    splitter = FrameSplitter(10)
    header = b"Content-Length: %d\r\n\r\n" % (1 << 30)
    start = b'{"params":"' + b"x" * (ID_PREFIX_BYTES - 20)
    assert splitter.feed(header + start) == []
    assert splitter.feed(b"x" * 100) == [OversizedFrame(1 << 30, None)]
    assert splitter.feed(b'","id":3}') == []


def test_oversized_frame_fed_byte_by_byte_is_reported_once_and_the_next_frame_kept() -> None:
    splitter = FrameSplitter(10)
    body = b'{"params": {"id": 1}, "id": 1234567890123456789012345, "x": "' + b"y" * 300 + b'"}'
    stream = b"Content-Length: %d\r\n\r\n" % len(body) + body + encode_frame(b"[]")
    events = [event for byte in stream for event in splitter.feed(bytes([byte]))]
    assert events == [OversizedFrame(len(body), b"1234567890123456789012345"), Frame(b"[]")]


@pytest.mark.parametrize(
    ("prefix", "known", "found"),
    [
        (b'{"jsonrpc":"2.0","id":12,"method":"x"', True, b"12"),
        (b'{"id": "abc", "params": {"id": 3}}', True, b'"abc"'),
        (b'{"params": {"id": 3}, "id": -4}', True, b"-4"),
        (b'{"params": [{"id": 3}], "id": 1.5}', True, b"1.5"),
        (b'{"id": 5.0e3, ', True, b"5.0e3"),
        (b'{"\\u0069d": "\\u00e9\\"x"}', True, '"\u00e9\\"x"'.encode()),
        (b'{"id": "' + "\u00e9".encode() + b'"}', True, '"\u00e9"'.encode()),
        (b'{"id": "\\ud800"}', True, None),
        (b'{"id": "\xff"}', True, None),
        (b'{"id": 12', False, None),
        (b'{"id": 1e', False, None),
        (b'{"id": "ab', False, None),
        (b'{"id"', False, None),
        (b'{"params": {"id": 3}, "text": "\\"id\\": 9"', False, None),
        (b'{"method": "x", "params": {"a": "', False, None),
        (b"", False, None),
        (b'{"id": null}', True, None),
        (b'{"id": true}', True, None),
        (b'{"id": {"id": 1}}', True, None),
        (b'{"id": 012}', True, None),
        (b'{"method": "x"}{"id": 9}', True, None),
        (b'[{"id": 1}]', True, None),
    ],
)
def test_request_id_is_read_exactly_and_only_at_the_top_level(
    prefix: bytes, known: bool, found: bytes | None
) -> None:
    assert first_request_id(prefix) == (known, found)


def test_a_whole_body_answers_with_its_last_id_as_a_parser_does() -> None:
    assert find_request_id(b'{"id": 1, "method": "x", "id": 2.5}') == b"2.5"
    assert find_request_id(b'{"id": 1, "id": null}') is None


@given(
    bodies=st.lists(st.binary(max_size=200), max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=40),
)
def test_any_chunking_of_a_stream_yields_the_same_frames(
    bodies: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(body) for body in bodies)
    splitter = FrameSplitter(10_000)
    received: list[bytes] = []
    position = 0
    for cut in cuts:
        received += frames_of(splitter.feed(stream[position : position + cut]))
        position += cut
    received += frames_of(splitter.feed(stream[position:]))
    assert received == bodies
