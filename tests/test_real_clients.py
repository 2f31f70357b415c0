"""Real clients, not our harness, drive the sidecar through one scenario each.

The wire is a trust boundary: what matters is what clients people actually use send
and accept. Two of them run the same scenario against a real sidecar process:

- headless Neovim, through `vim.lsp.rpc.start` (the RPC client under Neovim's own LSP
  client): `tests/real_clients/nvim_scenario.lua` performs the steps and writes what
  it saw, one JSON line per step, which this module checks;
- python-lsp-jsonrpc (`pylsp_jsonrpc`), whose `Endpoint`, `JsonRpcStreamReader` and
  `JsonRpcStreamWriter` run over the subprocess's pipes.

Scenario: initialize → create (non-ASCII title) → child → list → updateTitle → append →
prompt with updates → abort → `$/cancelRequest` → share/resolve → fork → bad params →
not found → delete → shutdown → exit (code 0). Each step is checked against
protocol.md by `check_scenario`, shared by both clients.

scripts/test installs Neovim; without `nvim` on PATH the Neovim test fails, unless
`PLUE_TESTS_WITHOUT_NVIM=1` says to skip it.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from pylsp_jsonrpc.endpoint import Endpoint
from pylsp_jsonrpc.exceptions import JsonRpcException
from pylsp_jsonrpc.streams import JsonRpcStreamReader, JsonRpcStreamWriter

from tests.harness.client import sidecar_command

NVIM_SCRIPT = Path(__file__).parent / "real_clients" / "nvim_scenario.lua"
NVIM_OPT_OUT = "PLUE_TESTS_WITHOUT_NVIM"

# Each echoed word waits this long: a 3-word prompt streams 3 updates, and a
# LONG_TURN-word turn is still running long after its first word, when the test
# aborts or cancels it (it would otherwise run for LONG_TURN * ECHO_DELAY_MS).
ECHO_DELAY_MS = 50
LONG_TURN = 200
WAIT_SECONDS = 15.0  # for any one answer; the turn above ends by itself in 10 s
NVIM_SECONDS = 120.0  # the whole Neovim run

ROOT_TITLE = "Grüße 🚀 — 世界"
CHILD_TITLE = "child ✓"
NEW_TITLE_SENT = "  Ünïcødé 标题  "
NEW_TITLE = "Ünïcødé 标题"
APPENDED_TEXT = "héllo wörld ✓"
PROMPT_TEXT = "alpha béta 🚀"
SHARE_BASE = "https://plue.app/share/"
MISSING_SESSION = "session_0000000000001"
MISSING_MESSAGE = "msg_00000000000000000000000000000000"
SESSION_ID = re.compile(r"^session_[0-9]{13,}$")
MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{32}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
METHODS_USED = {
    "initialize",
    "shutdown",
    "session/create",
    "session/list",
    "session/get",
    "session/updateTitle",
    "session/prompt",
    "session/abort",
    "session/share",
    "share/resolve",
    "session/fork",
    "session/delete",
    "message/append",
    "message/list",
    "message/get",
}


def long_turn_text() -> str:
    return " ".join(f"wörd{index}" for index in range(1, LONG_TURN + 1))


def text_parts(text: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": text}]


# ---------------------------------------------------------------------------------
# The checks, shared by both clients.
#
# A client's report maps each step to a record: `answered`, `result` or `error`
# (`{code, message, data}`), and the `notifications` (`{method, params}`) that arrived
# while the step ran. Neovim's Lua sees a JSON null inside an object as nil, so its
# records simply lack null fields: `null_fields_visible` says whether a client keeps
# them (then they must be present and null).


class Scenario:
    def __init__(self, client: str, steps: dict[str, dict[str, Any]], nulls: bool) -> None:
        self.client = client
        self.steps = steps
        self.nulls = nulls
        self.failures: list[str] = []

    def fail(self, step: str, what: str) -> None:
        record = json.dumps(self.steps.get(step), ensure_ascii=False, default=str)
        self.failures.append(f"[{self.client}] {step}: {what}\n    record: {record[:1500]}")

    def expect(self, step: str, condition: bool, what: str) -> bool:
        if not condition:
            self.fail(step, what)
        return condition

    def result(self, step: str) -> Any:
        """The step's result, or None (a failure is recorded) when it has none."""
        record = self.steps.get(step)
        if record is None:
            self.fail(step, "the client never reported this step")
            return None
        if not record.get("answered"):
            self.fail(step, "no answer arrived")
            return None
        if record.get("error") is not None:
            self.fail(step, f"answered an error, expected a result: {record['error']}")
            return None
        return record.get("result")

    def error(self, step: str, code: int, kind: str, field: str | None = None) -> None:
        record = self.steps.get(step)
        if record is None or not record.get("answered"):
            self.fail(step, f"no answer arrived, expected error {code} {kind}")
            return
        error = record.get("error")
        if error is None:
            self.fail(step, f"answered a result, expected error {code} {kind}")
            return
        data = error.get("data") or {}
        self.expect(step, error.get("code") == code, f"error code is not {code}")
        self.expect(step, data.get("kind") == kind, f"error data.kind is not {kind!r}")
        if field is not None:
            self.expect(step, data.get("field") == field, f"error data.field is not {field!r}")

    def null(self, step: str, value: Any, key: str) -> None:
        if not isinstance(value, dict):
            self.fail(step, f"{key}: the value is not an object")
        elif self.nulls and key not in value:
            self.fail(step, f"{key} is missing (it should be present and null)")
        elif value.get(key) is not None:
            self.fail(step, f"{key} is {value[key]!r}, expected null")

    def notes(self, step: str, method: str, record: dict[str, Any] | None = None) -> list[Any]:
        record = record if record is not None else self.steps.get(step) or {}
        return [n["params"] for n in record.get("notifications") or [] if n["method"] == method]

    def did_change(self, step: str, change: str, session: dict[str, Any] | None) -> None:
        """Exactly one didChange `change` for the session, carrying the session."""
        if not isinstance(session, dict):
            return
        matching = [
            n
            for n in self.notes(step, "session/didChange")
            if n.get("change") == change and n.get("sessionId") == session.get("id")
        ]
        if self.expect(step, len(matching) == 1, f"expected one didChange {change!r}"):
            self.expect(
                step,
                matching[0].get("session") == session,
                f"didChange {change!r} carries another session than the answer",
            )

    def updates(
        self, step: str, session_id: str, record: dict[str, Any] | None = None
    ) -> tuple[str, set[Any]]:
        """The concatenated text of the session's updates, and their message ids."""
        pieces = [
            n
            for n in self.notes(step, "session/update", record)
            if n.get("sessionId") == session_id
        ]
        text = "".join(n["delta"]["text"] for n in pieces if n["delta"].get("type") == "text")
        return text, {n.get("messageId") for n in pieces}


def check_scenario(scenario: Scenario) -> None:  # noqa: PLR0912, PLR0915
    s = scenario
    steps = s.steps

    init = s.result("initialize")
    if isinstance(init, dict):
        s.expect("initialize", init.get("protocolVersion") == 1, "protocolVersion is not 1")
        s.expect(
            "initialize",
            (init.get("serverInfo") or {}).get("name") == "plue-sidecar",
            "serverInfo.name is not plue-sidecar",
        )
        capabilities = init.get("capabilities") or {}
        missing = METHODS_USED - set(capabilities.get("methods") or [])
        s.expect("initialize", not missing, f"capabilities.methods lacks {sorted(missing)}")
        s.expect(
            "initialize",
            "echo" in (capabilities.get("runners") or []),
            "capabilities.runners does not list echo",
        )
        s.expect(
            "initialize",
            set(capabilities.get("notifications") or []) == {"session/didChange", "session/update"},
            "capabilities.notifications is not didChange and update",
        )

    root = s.result("create")
    root_id = root.get("id") if isinstance(root, dict) else None
    if isinstance(root, dict):
        s.expect("create", root.get("title") == ROOT_TITLE, "the non-ASCII title changed")
        s.expect("create", bool(SESSION_ID.match(str(root_id))), "the id is not a session id")
        s.null("create", root, "parentId")
        s.null("create", root, "share")
        s.null("create", root, "abortedAt")
        s.expect("create", root.get("messageCount") == 0, "messageCount is not 0")
        s.expect("create", root.get("isAborted") is False, "isAborted is not false")
        s.did_change("create", "created", root)

    child = s.result("child")
    child_id = child.get("id") if isinstance(child, dict) else None
    if isinstance(child, dict):
        s.expect("child", child.get("parentId") == root_id, "parentId is not the root")
        s.expect("child", child.get("title") == CHILD_TITLE, "the title changed")
        s.expect("child", child_id != root_id, "the child has the root's id")
        s.did_change("child", "created", child)

    children = s.result("list_children")
    if isinstance(children, dict):
        s.expect(
            "list_children",
            children.get("sessions") == [child],
            "the root's children are not exactly the child",
        )
        s.null("list_children", children, "nextCursor")

    # Neovim sends an empty Lua table as `"params":[]`, python-lsp-jsonrpc sends no
    # params at all: both mean "no params", so every default applies.
    listed = s.result("list_all")
    if isinstance(listed, dict):
        ids = [session.get("id") for session in listed.get("sessions") or []]
        s.expect(
            "list_all",
            ids == [child_id, root_id],
            f"listed {ids}, expected the child then the root",
        )

    renamed = s.result("update_title")
    if isinstance(renamed, dict) and isinstance(root, dict):
        s.expect(
            "update_title",
            renamed.get("title") == NEW_TITLE,
            "the title is not the trimmed new title",
        )
        s.expect("update_title", renamed.get("id") == root_id, "another session was renamed")
        s.expect(
            "update_title",
            renamed.get("updatedAt", 0) >= root.get("updatedAt", 0),
            "updatedAt went back",
        )
        s.did_change("update_title", "updated", renamed)

    appended = s.result("append")
    if isinstance(appended, dict):
        s.expect("append", appended.get("seq") == 1, "seq is not 1")
        s.expect("append", appended.get("role") == "user", "role is not user")
        s.expect("append", appended.get("status") == "complete", "status is not complete")
        s.expect("append", appended.get("sessionId") == root_id, "sessionId is not the root")
        s.expect(
            "append",
            appended.get("parts") == text_parts(APPENDED_TEXT),
            "the non-ASCII parts changed",
        )
        s.expect(
            "append", bool(MESSAGE_ID.match(str(appended.get("id")))), "the id is not a message id"
        )
        s.null("append", appended, "error")

    prompt = s.result("prompt")
    if isinstance(prompt, dict):
        s.expect("prompt", prompt.get("stopReason") == "end_turn", "stopReason is not end_turn")
        text, message_ids = s.updates("prompt", str(root_id))
        s.expect("prompt", text == PROMPT_TEXT, f"the updates concatenate to {text!r}")
        s.expect(
            "prompt",
            message_ids == {prompt.get("assistantMessageId")},
            "updates name another message than the assistant's",
        )
        s.expect(
            "prompt",
            len(s.notes("prompt", "session/update")) == 3,
            "the echo runner did not stream one update per word",
        )
        seqs = {n.get("seq") for n in s.notes("prompt", "session/update")}
        s.expect("prompt", seqs == {3}, f"updates carry seq {seqs}, expected 3")

    history = s.result("prompt_messages")
    if isinstance(history, dict) and isinstance(prompt, dict):
        messages = history.get("messages") or []
        s.expect(
            "prompt_messages",
            [m.get("seq") for m in messages] == [1, 2, 3],
            "the history is not seq 1, 2, 3",
        )
        if len(messages) == 3:
            user, assistant = messages[1], messages[2]
            s.expect(
                "prompt_messages",
                user.get("id") == prompt.get("userMessageId")
                and user.get("parts") == text_parts(PROMPT_TEXT),
                "seq 2 is not the prompt's user message",
            )
            s.expect(
                "prompt_messages",
                assistant.get("id") == prompt.get("assistantMessageId")
                and assistant.get("role") == "assistant"
                and assistant.get("status") == "complete"
                and assistant.get("parts") == text_parts(PROMPT_TEXT),
                "seq 3 is not the complete echoed assistant message",
            )

    # session/abort while the turn streams: the prompt answers stopReason "aborted".
    abort = steps.get("abort") or {}
    s.expect("abort", abort.get("streaming") is True, "the long turn never streamed")
    aborted_text = ""
    aborted_prompt: Any = None
    if abort.get("streaming"):
        abort_answer = abort.get("abort") or {}
        s.expect(
            "abort",
            abort_answer.get("answered") and abort_answer.get("error") is None,
            "session/abort was not answered with a result",
        )
        s.expect(
            "abort",
            abort_answer.get("result") == {"sessionId": root_id, "cancelled": 1},
            "session/abort did not answer {sessionId, cancelled: 1}",
        )
        turn = abort.get("prompt") or {}
        s.expect(
            "abort",
            turn.get("answered") and turn.get("error") is None,
            "the aborted prompt did not answer with a result",
        )
        aborted_prompt = turn.get("result") or {}
        s.expect(
            "abort",
            aborted_prompt.get("stopReason") == "aborted",
            "the aborted prompt's stopReason is not aborted",
        )
        aborted_text, _ = s.updates("abort", str(root_id), abort)
        s.expect(
            "abort",
            any(
                n.get("change") == "aborted" and n.get("sessionId") == root_id
                for n in s.notes("abort", "session/didChange")
            ),
            "no didChange aborted",
        )

    after_abort = s.result("abort_get")
    if isinstance(after_abort, dict):
        s.expect("abort_get", after_abort.get("isAborted") is True, "isAborted is not true")
        s.expect("abort_get", isinstance(after_abort.get("abortedAt"), int), "no abortedAt")
        s.expect("abort_get", after_abort.get("messageCount") == 5, "messageCount is not 5")

    partial = s.result("abort_messages")
    if isinstance(partial, dict) and isinstance(aborted_prompt, dict):
        messages = partial.get("messages") or []
        s.expect(
            "abort_messages",
            [m.get("seq") for m in messages] == [4, 5],
            "the aborted turn did not store seq 4 and 5",
        )
        if len(messages) == 2:
            stored = messages[1]
            s.expect(
                "abort_messages",
                messages[0].get("parts") == text_parts(long_turn_text()),
                "seq 4 is not the long prompt",
            )
            s.expect(
                "abort_messages",
                stored.get("id") == aborted_prompt.get("assistantMessageId")
                and stored.get("status") == "aborted",
                "seq 5 is not the prompt's assistant message with status aborted",
            )
            s.expect(
                "abort_messages",
                stored.get("parts") == text_parts(aborted_text),
                "the stored partial message is not what the updates streamed",
            )
            s.expect(
                "abort_messages",
                0 < len(aborted_text) < len(long_turn_text()),
                "the aborted turn streamed nothing or everything",
            )

    # $/cancelRequest while the turn streams: the prompt answers normally, "aborted".
    cancel = steps.get("cancel") or {}
    s.expect("cancel", cancel.get("streaming") is True, "the long turn never streamed")
    cancelled_text = ""
    cancelled_prompt: Any = None
    if cancel.get("streaming"):
        turn = cancel.get("prompt") or {}
        s.expect("cancel", turn.get("answered") is True, "the cancelled prompt was never answered")
        s.expect(
            "cancel",
            turn.get("error") is None,
            "the cancelled prompt answered an error, not stopReason aborted",
        )
        cancelled_prompt = turn.get("result") or {}
        s.expect(
            "cancel",
            cancelled_prompt.get("stopReason") == "aborted",
            "the cancelled prompt's stopReason is not aborted",
        )
        cancelled_text, _ = s.updates("cancel", str(child_id), cancel)

    cancelled = s.result("cancel_messages")
    if isinstance(cancelled, dict) and isinstance(cancelled_prompt, dict):
        messages = cancelled.get("messages") or []
        s.expect(
            "cancel_messages",
            [m.get("seq") for m in messages] == [1, 2],
            "the cancelled turn did not store seq 1 and 2",
        )
        if len(messages) == 2:
            stored = messages[1]
            s.expect(
                "cancel_messages",
                stored.get("id") == cancelled_prompt.get("assistantMessageId")
                and stored.get("status") == "aborted",
                "seq 2 is not the prompt's assistant message with status aborted",
            )
            s.expect(
                "cancel_messages",
                stored.get("parts") == text_parts(cancelled_text),
                "the stored partial message is not what the updates streamed",
            )
            s.expect(
                "cancel_messages",
                0 < len(cancelled_text) < len(long_turn_text()),
                "the cancelled turn streamed nothing or everything",
            )

    share = s.result("share")
    if isinstance(share, dict):
        secret = str(share.get("secret"))
        s.expect("share", bool(SECRET.match(secret)), "the secret is not 32 bytes of base64url")
        s.expect("share", share.get("url") == SHARE_BASE + secret, "url is not base + secret")
        s.expect(
            "share",
            share.get("expiresAt", 0) - share.get("createdAt", 0) == 3_600_000,
            "expiresAt is not createdAt + 3600 s",
        )
        shared = [n for n in s.notes("share", "session/didChange") if n.get("change") == "shared"]
        s.expect(
            "share",
            len(shared) == 1 and (shared[0].get("session") or {}).get("share") == share,
            "no didChange shared carrying the share",
        )

    resolved = s.result("resolve")
    if isinstance(resolved, dict):
        session = resolved.get("session") or {}
        s.expect("resolve", session.get("id") == root_id, "the secret resolves another session")
        s.expect("resolve", session.get("title") == NEW_TITLE, "the title is not the new title")
        s.null("resolve", session, "share")

    fork = s.result("fork")
    fork_id = fork.get("id") if isinstance(fork, dict) else None
    if isinstance(fork, dict):
        s.expect("fork", fork.get("parentId") == root_id, "parentId is not the root")
        s.expect("fork", fork.get("title") == NEW_TITLE + " (fork)", "the default title is wrong")
        s.expect("fork", fork.get("messageCount") == 1, "messageCount is not 1")
        s.expect("fork", fork_id not in (root_id, child_id), "the fork reused an id")
        s.did_change("fork", "created", fork)

    copied = s.result("fork_messages")
    if isinstance(copied, dict) and isinstance(appended, dict):
        messages = copied.get("messages") or []
        s.expect(
            "fork_messages",
            len(messages) == 1
            and messages[0].get("seq") == 1
            and messages[0].get("parts") == appended.get("parts")
            and messages[0].get("id") != appended.get("id")
            and messages[0].get("sessionId") == fork_id,
            "the fork's history is not a copy of the appended message",
        )

    s.error("bad_title", -32602, "invalid_params", "title")
    s.error("bad_session_id", -32602, "invalid_params", "sessionId")
    s.error("bad_limit", -32602, "invalid_params", "limit")
    s.error("bad_part", -32602, "invalid_params", "parts.0")
    s.error("missing_session", -32010, "session_not_found")
    s.error("missing_message", -32016, "message_not_found")
    s.error("missing_share", -32013, "share_not_found")
    s.error("missing_method", -32601, "method_not_found")

    deleted = s.result("delete")
    if isinstance(deleted, dict):
        ids = deleted.get("deleted") or []
        s.expect(
            "delete",
            sorted(ids) == sorted([root_id, child_id, fork_id]),
            "did not delete exactly the root, its child and its fork",
        )
        s.expect("delete", ids[-1:] == [root_id], "the root is not deleted last")
        gone = [
            n.get("sessionId")
            for n in s.notes("delete", "session/didChange")
            if n.get("change") == "deleted"
        ]
        s.expect("delete", sorted(gone) == sorted(ids), "not one didChange deleted per session")
    s.error("deleted_get", -32010, "session_not_found")
    remaining = s.result("deleted_list")
    if isinstance(remaining, dict):
        s.expect("deleted_list", remaining.get("sessions") == [], "sessions remain after delete")

    shutdown = steps.get("shutdown") or {}
    s.expect(
        "shutdown",
        shutdown.get("answered") is True and shutdown.get("error") is None,
        "shutdown was not answered with a result",
    )
    s.null("shutdown", shutdown, "result")
    s.error("after_shutdown", -32600, "shutting_down")

    ended = steps.get("exit") or {}
    s.expect("exit", ended.get("code") == 0, f"the sidecar exited with {ended.get('code')!r}")


def report(scenario: Scenario, diagnostics: str) -> str:
    return "\n".join(scenario.failures) + "\n\n" + diagnostics


# ---------------------------------------------------------------------------------
# Neovim


def nvim_version(nvim: str) -> tuple[int, int, str]:
    first = subprocess.run(
        [nvim, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()[0]
    found = re.match(r"NVIM v(\d+)\.(\d+)", first)
    assert found, f"cannot read the Neovim version from {first!r}"
    return int(found[1]), int(found[2]), first


def test_neovim_drives_the_scenario(tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None:
        if os.environ.get(NVIM_OPT_OUT) == "1":
            pytest.skip(f"nvim is not installed and {NVIM_OPT_OUT}=1")
        pytest.fail(f"nvim is not on PATH (scripts/test installs it; {NVIM_OPT_OUT}=1 skips)")
    major, minor, version = nvim_version(nvim)
    assert (major, minor) >= (0, 7), f"{version}: vim.lsp.rpc.start needs Neovim 0.7+"

    out = tmp_path / "nvim-report.jsonl"
    command = sidecar_command(tmp_path / "data", "--echo-delay-ms", str(ECHO_DELAY_MS))
    env = {
        **os.environ,
        "PLUE_RC_CMD": json.dumps(command),
        "PLUE_RC_OUT": str(out),
        "PLUE_RC_WAIT_MS": str(int(WAIT_SECONDS * 1000)),
        # Neovim's LSP log (it logs the sidecar's stderr) and any state stay here.
        **{
            name: str(tmp_path / name.lower())
            for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")
        },
    }
    try:
        run = subprocess.run(
            [nvim, "--headless", "--clean", "-n", "-i", "NONE", "-c", f"luafile {NVIM_SCRIPT}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=NVIM_SECONDS,
            check=False,
        )
        outcome = f"nvim exited {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    except subprocess.TimeoutExpired as timeout:
        outcome = f"nvim was killed after {NVIM_SECONDS} s: {timeout}"

    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    records = [json.loads(line) for line in lines]
    steps = {record["step"]: record for record in records}
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.rglob("lsp.log"))
    diagnostics = f"{version}\n{outcome}\nreport:\n" + "\n".join(lines)[-6000:] + f"\n{logs}"

    assert "crashed" not in steps, f"the Lua script failed\n{diagnostics}"
    assert "done" in steps, f"the Lua script did not finish\n{diagnostics}"
    assert steps["done"].get("rpc_errors") == [], (
        f"Neovim's RPC client reported errors\n{diagnostics}"
    )
    scenario = Scenario("neovim", steps, nulls=False)
    check_scenario(scenario)
    assert not scenario.failures, report(scenario, diagnostics)


# ---------------------------------------------------------------------------------
# python-lsp-jsonrpc


class PylspClient:
    """python-lsp-jsonrpc's Endpoint over a sidecar subprocess's pipes.

    The reader thread hands every message to the Endpoint; this wrapper also keeps
    each raw message, so the answer to a request the library has cancelled (which
    the library cannot deliver, see `cancel`) can still be checked.
    """

    def __init__(self, command: list[str], stderr: Any) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.writer = JsonRpcStreamWriter(self.process.stdin)
        self.reader = JsonRpcStreamReader(self.process.stdout)
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.consume_errors: list[str] = []
        self.changed = threading.Condition()
        self.endpoint = Endpoint(
            {
                "session/update": self._notification("session/update"),
                "session/didChange": self._notification("session/didChange"),
            },
            self._write,
        )
        self.thread = threading.Thread(
            target=self.reader.listen, args=(self._consume,), daemon=True
        )
        self.thread.start()

    def _write(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.writer.write(message)

    def _notification(self, method: str) -> Any:
        def handle(params: Any) -> None:
            with self.changed:
                self.notifications.append({"method": method, "params": params})
                self.changed.notify_all()

        return handle

    def _consume(self, message: dict[str, Any]) -> None:
        with self.changed:
            self.received.append(message)
            self.changed.notify_all()
        try:
            self.endpoint.consume(message)
        except concurrent.futures.InvalidStateError as failure:
            # The answer to a request whose future was cancelled: set_result raises.
            self.consume_errors.append(f"{message.get('id')}: {failure!r}")

    def send(self, method: str, params: Any = None) -> tuple[Any, concurrent.futures.Future[Any]]:
        future = self.endpoint.request(method, params)
        return self.sent[-1]["id"], future

    def wait(self, future: concurrent.futures.Future[Any], method: str) -> dict[str, Any]:
        record: dict[str, Any] = {"method": method}
        try:
            record["result"] = future.result(timeout=WAIT_SECONDS)
            record["answered"] = True
        except JsonRpcException as failure:
            record["answered"] = True
            record["error"] = {
                "code": failure.code,
                "message": failure.message,
                "data": failure.data,
            }
        except concurrent.futures.TimeoutError:
            record["answered"] = False
        return record

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return self.wait(self.send(method, params)[1], method)

    def first_update(self, session_id: str, mark: int) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: any(
                    n["method"] == "session/update" and n["params"].get("sessionId") == session_id
                    for n in self.notifications[mark:]
                ),
                timeout=WAIT_SECONDS,
            )

    def answer_to(self, request_id: Any) -> dict[str, Any] | None:
        def find() -> dict[str, Any] | None:
            for message in self.received:
                if message.get("id") == request_id and "method" not in message:
                    return message
            return None

        with self.changed:
            self.changed.wait_for(lambda: find() is not None, timeout=WAIT_SECONDS)
            return find()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT_SECONDS)
        self.thread.join(timeout=WAIT_SECONDS)
        self.endpoint.shutdown()


def run_pylsp_scenario(client: PylspClient) -> dict[str, dict[str, Any]]:  # noqa: PLR0915
    steps: dict[str, dict[str, Any]] = {}

    def step(name: str, method: str, params: Any = None) -> dict[str, Any]:
        mark = len(client.notifications)
        record = client.call(method, params)
        record["notifications"] = client.notifications[mark:]
        steps[name] = record
        return record

    def result_of(record: dict[str, Any], key: str, default: str) -> Any:
        result = record.get("result")
        return result.get(key, default) if isinstance(result, dict) else default

    step(
        "initialize",
        "initialize",
        {
            "processId": os.getpid(),
            "clientInfo": {"name": "python-lsp-jsonrpc"},
            "capabilities": {},
            "rootUri": None,
        },
    )
    client.endpoint.notify("initialized", {})

    root_id = result_of(
        step("create", "session/create", {"title": ROOT_TITLE}), "id", MISSING_SESSION
    )
    child_id = result_of(
        step("child", "session/create", {"parentId": root_id, "title": CHILD_TITLE}),
        "id",
        MISSING_SESSION,
    )
    step("list_children", "session/list", {"parentId": root_id})
    step("list_all", "session/list")  # the library leaves `params` out
    step("update_title", "session/updateTitle", {"sessionId": root_id, "title": NEW_TITLE_SENT})
    appended = step(
        "append",
        "message/append",
        {"sessionId": root_id, "role": "user", "parts": text_parts(APPENDED_TEXT)},
    )
    step("prompt", "session/prompt", {"sessionId": root_id, "parts": text_parts(PROMPT_TEXT)})
    step("prompt_messages", "message/list", {"sessionId": root_id})

    # abort: the turn streams, then session/abort of its session.
    mark = len(client.notifications)
    _, turn = client.send(
        "session/prompt", {"sessionId": root_id, "parts": text_parts(long_turn_text())}
    )
    streaming = client.first_update(root_id, mark)
    abort = client.call("session/abort", {"sessionId": root_id}) if streaming else None
    steps["abort"] = {
        "streaming": streaming,
        "abort": abort,
        "prompt": client.wait(turn, "session/prompt"),
        "notifications": client.notifications[mark:],
    }
    step("abort_get", "session/get", {"sessionId": root_id})
    step("abort_messages", "message/list", {"sessionId": root_id, "afterSeq": 3})

    # $/cancelRequest the library's way: cancelling the request's future sends it.
    mark = len(client.notifications)
    request_id, turn = client.send(
        "session/prompt", {"sessionId": child_id, "parts": text_parts(long_turn_text())}
    )
    streaming = client.first_update(child_id, mark)
    prompt: dict[str, Any] = {"answered": False}
    if streaming:
        turn.cancel()
        answer = client.answer_to(request_id)
        if answer is not None:
            prompt = {
                "answered": True,
                "result": answer.get("result"),
                "error": answer.get("error"),
            }
    steps["cancel"] = {
        "streaming": streaming,
        "prompt": prompt,
        "cancel_sent": [m for m in client.sent if m.get("method") == "$/cancelRequest"],
        "notifications": client.notifications[mark:],
    }
    step("cancel_messages", "message/list", {"sessionId": child_id})

    secret = result_of(
        step("share", "session/share", {"sessionId": root_id, "expiresInSeconds": 3600}),
        "secret",
        "x",
    )
    step("resolve", "share/resolve", {"secret": secret})
    fork = step(
        "fork",
        "session/fork",
        {"sessionId": root_id, "messageId": result_of(appended, "id", MISSING_MESSAGE)},
    )
    step("fork_messages", "message/list", {"sessionId": result_of(fork, "id", MISSING_SESSION)})

    step("bad_title", "session/updateTitle", {"sessionId": root_id, "title": "   "})
    step("bad_session_id", "session/get", {"sessionId": "../../etc/passwd"})
    step("bad_limit", "session/list", {"limit": "ten"})
    step(
        "bad_part",
        "message/append",
        {"sessionId": root_id, "role": "user", "parts": [{"type": "video", "uri": "x"}]},
    )
    step("missing_session", "session/get", {"sessionId": MISSING_SESSION})
    step("missing_message", "message/get", {"sessionId": root_id, "messageId": MISSING_MESSAGE})
    step("missing_share", "share/resolve", {"secret": "not-a-share"})
    step("missing_method", "session/explode", {"sessionId": root_id})

    step("delete", "session/delete", {"sessionId": root_id})
    step("deleted_get", "session/get", {"sessionId": root_id})
    step("deleted_list", "session/list", {"rootsOnly": False})
    step("shutdown", "shutdown")
    step("after_shutdown", "session/list", {"limit": 1})
    client.endpoint.notify("exit")
    try:
        code: int | None = client.process.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        code = None
    steps["exit"] = {"code": code}
    return steps


def test_python_lsp_jsonrpc_drives_the_scenario(tmp_path: Path) -> None:
    command = sidecar_command(tmp_path / "data", "--echo-delay-ms", str(ECHO_DELAY_MS))
    stderr_path = tmp_path / "sidecar.stderr"
    with stderr_path.open("wb") as stderr:
        client = PylspClient(command, stderr)
        try:
            steps = run_pylsp_scenario(client)
        finally:
            client.close()

    sent = [json.dumps(m, ensure_ascii=False, default=str)[:300] for m in client.sent]
    diagnostics = (
        "sent:\n"
        + "\n".join(sent)[-5000:]
        + f"\nsidecar stderr:\n{stderr_path.read_text(errors='replace')[-3000:]}"
    )
    scenario = Scenario("python-lsp-jsonrpc", steps, nulls=True)
    check_scenario(scenario)

    # What the library put on the wire: string ids, and a `$/cancelRequest` for the
    # prompt whose future was cancelled. The answer to that prompt reaches the
    # library after the cancel, and only our wrapper sees it: the Endpoint fails to
    # resolve the already-cancelled future (consume_errors holds that), which is the
    # library's behaviour, not the sidecar's.
    cancels = steps["cancel"]["cancel_sent"]
    scenario.expect(
        "cancel",
        len(cancels) == 1 and isinstance(cancels[0]["params"]["id"], str),
        "the library did not send one $/cancelRequest with the string id",
    )
    listing = [m for m in client.sent if m.get("method") == "session/list"]
    scenario.expect(
        "list_all",
        len(listing) > 1 and "params" not in listing[1],
        "the library sent params for a request without them",
    )
    assert not scenario.failures, report(scenario, diagnostics)
