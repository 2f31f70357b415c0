"""The frame splitter, as tables of bytes in and events out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plue_sidecar.rpc.framing import (
    BrokenHeader,
    Frame,
    FrameSplitter,
    OversizedFrame,
    encode_frame,
    find_request_id,
)


def frames_of(events: list[object]) -> list[bytes]:
    return [e.body for e in events if isinstance(e, Frame)]


@pytest.mark.parametrize(("stream", "bodies"), [
    (b"Content-Length: 2\r\n\r\n{}", [b"{}"]),
    (b"Content-Length: 2\r\n\r\n{}Co", [b"{}"]),
    (b"content-length:2\r\n\r\n{}", [b"{}"]),
    (b"CONTENT-LENGTH: 2\r\nContent-Type: x\r\n\r\n{}", [b"{}"]),
    (b"Content-Length: 2\r\n\r\n{}Content-Length: 3\r\n\r\n[1]", [b"{}", b"[1]"]),
    (b"Content-Length: 0\r\n\r\n", [b""]),
    (b"Content-Length: 4\r\n\r\n{}", []),
])
def test_well_formed_streams(stream: bytes, bodies: list[bytes]) -> None:
    assert frames_of(FrameSplitter(1000).feed(stream)) == bodies


@pytest.mark.parametrize("garbage", [
    b"Content-Length: abc\r\n\r\n",
    b"Content-Length: -1\r\n\r\n",
    b"Content-Length: 2\n\n{}",
    b"Content-Type: a\r\n\r\n",
    b"garbage line\r\n\r\n",
    b"\r\n",
    b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n",
    b"Content-Length: " + b"1" * 19 + b"\r\n\r\n",
    b"Content-Length: 2\r\nX-Padding: " + b"p" * 9000 + b"\r\n\r\n",
])
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
    body = b'{"jsonrpc":"2.0","id":5,"method":"x","params":{"t":"' + b"a" * 500 + b'"}}'
    events = splitter.feed(b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
    assert events == []
    assert splitter.buffered == 0
    events = splitter.feed(body[100:] + encode_frame(b"{}"))
    oversized = [e for e in events if isinstance(e, OversizedFrame)]
    assert len(oversized) == 1 and oversized[0].size == len(body)
    assert find_request_id(oversized[0].prefix) == 5
    assert frames_of(events) == [b"{}"]


@pytest.mark.parametrize(("prefix", "found"), [
    (b'{"jsonrpc":"2.0","id":12,"method":"x"', 12),
    (b'{"id": "abc", "params": {"id": 3}}', "abc"),
    (b'{"params": {"id": 3}, "id": -4}', -4),
    (b'{"params": {"id": 3}, "text": "\\"id\\": 9"', None),
    (b'{"method": "x", "params": {"a": "', None),
    (b'{"id": null}', None),
    (b'[{"id": 1}]', None),
])
def test_request_id_is_found_only_at_the_top_level(prefix: bytes, found: object) -> None:
    assert find_request_id(prefix) == found


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
