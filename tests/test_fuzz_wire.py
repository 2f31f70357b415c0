"""Fuzzing the wire through the real process: valid frames mutated at random, mixed
with requests that must be answered.

After each example: the process lives, every frame on stdout is well formed, every
valid request is answered exactly once with its own id, and (at the end) every session
a create acknowledged is still listed and `doctor` finds nothing wrong.

CI runs a fixed, seeded budget (PLUE_FUZZ_EXAMPLES, default 300; PLUE_FUZZ_SEED);
PLUE_FUZZ_MINUTES=N keeps going with new seeds for N minutes.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.harness.doctor import doctor

EXAMPLES = int(os.environ.get("PLUE_FUZZ_EXAMPLES", "300"))
SEED = int(os.environ.get("PLUE_FUZZ_SEED", "20261127"))
MINUTES = float(os.environ.get("PLUE_FUZZ_MINUTES", "0"))
ANSWER_SECONDS = 20.0
VALID_IDS_FROM = 10**9
"""Ids of the requests that must be answered; junk never uses ids this large."""


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class Sidecar:
    """A sidecar driven synchronously (hypothesis calls the test body synchronously)."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plue_sidecar",
                "--data-dir",
                str(data_dir),
                "--echo-delay-ms",
                "1",
                "--max-frame-bytes",
                "65536",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
        )
        self.frames: queue.Queue[dict[str, Any] | Exception] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = VALID_IDS_FROM
        self.acknowledged: set[str] = set()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                header = b""
                while not header.endswith(b"\r\n\r\n"):
                    byte = stream.read(1)
                    if not byte:
                        return
                    header += byte
                lines = header[:-4].split(b"\r\n")
                assert len(lines) == 1 and lines[0].startswith(b"Content-Length: "), header
                body = stream.read(int(lines[0].split(b": ", 1)[1]))
                message = json.loads(body)
                assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", body
                self.frames.put(message)
        except Exception as exc:  # a malformed frame from the sidecar fails the test
            self.frames.put(exc)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def answers(self, wanted: set[int]) -> dict[int, dict[str, Any]]:
        """Read until every id in `wanted` is answered; each exactly once."""
        found: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + ANSWER_SECONDS
        while set(found) != wanted:
            left = deadline - time.monotonic()
            assert left > 0, f"unanswered: {sorted(wanted - set(found))}"
            try:
                message = self.frames.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(message, Exception):
                raise message
            msg_id = message.get("id")
            if "method" in message or not isinstance(msg_id, int) or msg_id < VALID_IDS_FROM:
                continue
            assert msg_id in wanted, f"an answer to {msg_id}, never sent"
            assert msg_id not in found, f"{msg_id} answered twice"
            found[msg_id] = message
        assert self.process.poll() is None, "the sidecar died"
        return found

    def call(self, method: str, params: Any) -> Any:
        msg_id = self.new_id()
        self.write(request(msg_id, method, params))
        answer = self.answers({msg_id})[msg_id]
        assert "result" in answer, answer
        return answer["result"]


def request(msg_id: object, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return frame(json.dumps(message).encode())


# --- what a hostile or buggy client sends ----------------------------------------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Not `shutdown` and `exit`: they end the process the examples share, as they should.
METHODS = [
    "initialize",
    "session/create",
    "session/get",
    "session/list",
    "session/updateTitle",
    "session/delete",
    "session/abort",
    "session/prompt",
    "session/share",
    "session/unshare",
    "session/fork",
    "session/close",
    "message/append",
    "message/list",
    "message/get",
    "share/resolve",
    "$/cancelRequest",
    "nope/nothing",
]
junk_id = st.one_of(
    st.integers(-5, 10**6),
    st.text(max_size=6),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def junk_frame(draw: st.DrawFn) -> bytes:
    """One frame whose framing holds (its length is its body's), whose content is not."""
    kind = draw(
        st.sampled_from(
            [
                "message",
                "notification",
                "response",
                "not json",
                "bytes",
                "deep",
                "broken header",
            ]
        )
    )
    if kind == "message":
        body: Any = {
            "jsonrpc": draw(st.sampled_from(["2.0", "1.0", 2])),
            "id": draw(junk_id),
            "method": draw(st.sampled_from(METHODS)),
            "params": draw(json_value),
        }
        for key in draw(st.lists(st.sampled_from(["jsonrpc", "id", "params"]), max_size=2)):
            body.pop(key, None)
    elif kind == "notification":
        # Request methods named as notifications must never run.
        method = draw(st.sampled_from(METHODS))
        body = {"jsonrpc": "2.0", "method": method, "params": draw(json_value)}
    elif kind == "response":
        body = {
            "jsonrpc": "2.0",
            "id": draw(junk_id),
            draw(st.sampled_from(["result", "error"])): draw(json_value),
        }
    elif kind == "deep":
        depth = draw(st.integers(50, 3000))
        return frame(
            b'{"jsonrpc":"2.0","id":7,"method":"session/list","params":'
            + b"[" * depth
            + b"]" * depth
            + b"}"
        )
    elif kind == "not json":
        text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "session/list"})
        cut = draw(st.integers(0, len(text) - 1))
        return frame(text[:cut].encode())
    elif kind == "bytes":
        return frame(draw(st.binary(max_size=64)))
    else:
        garbage = draw(
            st.sampled_from(
                [
                    # Past 18 digits a length is a broken header; shorter ones would be a frame
                    # that rightly swallows what follows, which no example may do.
                    b"Content-Length: " + b"9" * draw(st.integers(19, 6000)) + b"\r\n\r\n",
                    b"Content-Length: -1\r\n\r\n",
                    b"Content-Length: 1.5\r\n\r\n",
                    b"no colon here\r\n\r\n",
                    b"X-Other: 1\r\n\r\n",
                    b"\r\n\r\n",
                    "Content-Length: ²\r\n\r\n".encode(),
                    b"\xff\xfe\r\n\r\n",
                ]
            )
        )
        return garbage
    return frame(json.dumps(body).encode())


@st.composite
def valid_request(draw: st.DrawFn, sidecar: Sidecar) -> tuple[int, str, bytes]:
    # Every value is drawn whatever the sidecar holds, so that hypothesis draws the same
    # way when it replays an example against a sidecar that has moved on.
    method = draw(
        st.sampled_from(
            [
                "session/create",
                "session/list",
                "message/append",
                "session/prompt",
                "session/updateTitle",
            ]
        )
    )
    title = draw(st.text(min_size=1, max_size=30).filter(lambda t: t.strip()))
    pick = draw(st.integers(0, 19))
    text = [{"type": "text", "text": draw(st.text(max_size=40))}]
    limit = draw(st.integers(1, 50))
    suffix = draw(st.text(max_size=9))
    msg_id = sidecar.new_id()
    some = sorted(sidecar.acknowledged)[:20]
    if method == "session/create" or not some:
        return msg_id, "session/create", request(msg_id, "session/create", {"title": title})
    session = some[pick % len(some)]
    params: dict[str, Any] = {
        "session/list": {"limit": limit},
        "message/append": {"sessionId": session, "role": "user", "parts": text},
        "session/prompt": {"sessionId": session, "parts": text},
        "session/updateTitle": {"sessionId": session, "title": "t" + suffix},
    }[method]
    return msg_id, method, request(msg_id, method, params)


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    directory = tmp_path_factory.mktemp("fuzz")
    running = Sidecar(directory / "data", directory / "sidecar.log")
    running.call("initialize", {"processId": None})
    yield running
    listed: set[str] = set()
    cursor = None
    while True:
        page = running.call(
            "session/list", {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        )
        listed.update(session["id"] for session in page["sessions"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert running.acknowledged <= listed, sorted(running.acknowledged - listed)
    running.call("shutdown", None)
    running.write(frame(b'{"jsonrpc":"2.0","method":"exit"}'))
    assert running.process.wait(30) == 0
    code, report = doctor(directory / "data")
    assert code == 0, report
    log = (directory / "sidecar.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def run_example(sidecar: Sidecar, data: st.DataObject) -> None:
    wanted: dict[int, str] = {}
    chunks: list[bytes] = []
    for _ in range(data.draw(st.integers(1, 8))):
        if data.draw(st.booleans()):
            chunks.append(data.draw(junk_frame()))
        else:
            msg_id, method, raw = data.draw(valid_request(sidecar))
            wanted[msg_id] = method
            chunks.append(raw)
            if data.draw(st.booleans()) and method == "session/prompt":
                chunks.append(
                    frame(
                        json.dumps(
                            {
                                "jsonrpc": "2.0",
                                "method": "$/cancelRequest",
                                "params": {"id": msg_id},
                            }
                        ).encode()
                    )
                )
    # A broken header resynchronises at the next Content-Length: end with a clean frame.
    closing = sidecar.new_id()
    wanted[closing] = "session/list"
    chunks.append(request(closing, "session/list", {"limit": 1}))
    payload = b"".join(chunks)
    if data.draw(st.booleans()):
        sidecar.write(payload)
    else:  # in pieces, split anywhere
        cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=6)))
        for start, end in zip([0, *cuts], [*cuts, len(payload)], strict=True):
            sidecar.write(payload[start:end])
    answers = sidecar.answers(set(wanted))
    for msg_id, method in wanted.items():
        answer = answers[msg_id]
        if method == "session/create" and "result" in answer:
            sidecar.acknowledged.add(answer["result"]["id"])
        if "error" in answer:
            assert answer["error"]["code"] != -32603, answer  # never an internal error
            assert "kind" in answer["error"].get("data", {}), answer


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate],
)


def fuzz_round(sidecar: Sidecar, round_seed: int) -> None:
    @seed(round_seed)
    @FUZZ_SETTINGS
    @given(data=st.data())
    def once(data: st.DataObject) -> None:
        run_example(sidecar, data)

    once()


def test_the_wire_survives_mutated_frames(sidecar: Sidecar) -> None:
    """One seeded round; with PLUE_FUZZ_MINUTES, rounds of new seeds until time is up."""
    fuzz_round(sidecar, SEED)
    deadline = time.monotonic() + MINUTES * 60
    round_ = 0
    while time.monotonic() < deadline:
        round_ += 1
        fuzz_round(sidecar, SEED + round_)
