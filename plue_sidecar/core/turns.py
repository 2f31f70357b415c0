"""Turns: a prompt answered by the session's runner, streamed, stored, abortable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from plue_sidecar import errors
from plue_sidecar.core.clock import now_ms
from plue_sidecar.core.histories import MessageHistories
from plue_sidecar.core.running import RunningTurns, Turn
from plue_sidecar.core.sessions import SessionService
from plue_sidecar.models.parts import Part, merge_delta
from plue_sidecar.models.wire import MessageStatus, PromptResult, SessionUpdate, StopReason
from plue_sidecar.runners.base import Runner, TurnInput
from plue_sidecar.runners.registry import RunnerRegistry, UnknownRunnerError

log = logging.getLogger(__name__)


class UpdateSink(Protocol):
    def turn_update(self, update: SessionUpdate) -> None: ...

    def has_output_room(self) -> bool:
        """False while the client is behind on reading (see `wait_for_output_room`)."""
        ...

    async def wait_for_output_room(self) -> None:
        """Return once what waits for the client is below its bound again."""
        ...


class TurnManager:
    """Runs turns: stores the prompt, streams the runner's answer as `session/update`
    notifications, stores the answer (complete, aborted or failed).

    The only writer of `RunningTurns`: a session is busy from the moment its prompt is
    accepted until its answer is stored.
    """

    def __init__(
        self,
        sessions: SessionService,
        histories: MessageHistories,
        running: RunningTurns,
        *,
        runners: RunnerRegistry,
        sink: UpdateSink,
        default_runner: str,
        abort_grace_seconds: float,
        take_absorbed_cancel: Callable[[], bool],
    ) -> None:
        """`take_absorbed_cancel`: whether storing the prompt absorbed a cancellation of
        the request (see `SessionStorage.take_absorbed_cancel`)."""
        self._sessions = sessions
        self._histories = histories
        self._running = running
        self._runners = runners
        self._sink = sink
        self._default_runner = default_runner
        self._grace = abort_grace_seconds
        self._take_absorbed_cancel = take_absorbed_cancel

    def runner_names(self) -> list[str]:
        """The runners a client may name."""
        return self._runners.names()

    def runner_for(self, name: str) -> Runner:
        try:
            return self._runners.get(name)
        except UnknownRunnerError:
            raise errors.unknown_runner(name) from None

    async def prompt(self, session_id: str, parts: list[Part]) -> PromptResult:
        document = self._sessions.document(session_id)
        if session_id in self._running:
            raise errors.session_busy(session_id)
        runner = self.runner_for(document.runner or self._default_runner)
        turn = Turn(session_id)
        self._running.begin(turn)
        try:
            user = await self._histories.append_for_turn(session_id, "user", parts)
            if self._take_absorbed_cancel():
                # `$/cancelRequest` came while the prompt was being stored: the turn
                # starts aborted, and the prompt answers like any aborted turn.
                turn.abort_requested.set()
            stop_reason = await self._run(turn, runner)
            return PromptResult(
                user_message_id=user.id,
                assistant_message_id=turn.assistant_message_id,
                stop_reason=stop_reason,
            )
        finally:
            self._running.end(turn)

    async def abort(self, session_id: str) -> bool:
        """End the session's running turn, if any; returns once its message is stored."""
        turn = self._running.get(session_id)
        if turn is None:
            return False
        turn.abort_requested.set()
        await turn.ended.wait()
        return True

    def running(self) -> list[str]:
        return self._running.sessions()

    async def _run(self, turn: Turn, runner: Runner) -> StopReason:
        history = (await self._histories.history(turn.session_id)).records
        seq = len(history) + 1
        started_at = now_ms()
        produced: list[Part] = []

        async def consume() -> None:
            stream = runner.stream(TurnInput(turn.session_id, list(history), turn.abort_requested))
            told = False
            async for delta in stream:
                if not self._sink.has_output_room():
                    # The client is not reading: hold the runner here (it is not asked
                    # for more) until it catches up; nothing is merged or sent meanwhile.
                    if not told:
                        log.warning(
                            "%s: the client is not reading its output; the turn waits for it",
                            turn.session_id,
                        )
                        told = True
                    await self._sink.wait_for_output_room()
                if turn.discard_output:
                    return
                merge_delta(produced, delta)
                self._sink.turn_update(
                    SessionUpdate(
                        session_id=turn.session_id,
                        message_id=turn.assistant_message_id,
                        seq=seq,
                        delta=delta,
                    )
                )

        producer = asyncio.create_task(consume())
        status, error = await self._await_end(turn, producer)
        await self._histories.append_for_turn(
            turn.session_id,
            "assistant",
            produced,
            status=status,
            error=error,
            message_id=turn.assistant_message_id,
            created_at=started_at,
        )
        return {"complete": "end_turn", "aborted": "aborted", "error": "error"}[status]  # type: ignore[return-value]

    async def _await_end(
        self, turn: Turn, producer: asyncio.Task[None]
    ) -> tuple[MessageStatus, str | None]:
        abort_signal = asyncio.create_task(turn.abort_requested.wait())
        try:
            await asyncio.wait({producer, abort_signal}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # `$/cancelRequest` on the prompt: an abort of this turn.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            turn.abort_requested.set()
        finally:
            abort_signal.cancel()
        if producer.done() and not turn.abort_requested.is_set():
            exc = producer.exception()
            if exc is None:
                return "complete", None
            log.error("runner failed in %s", turn.session_id, exc_info=exc)
            return "error", f"{type(exc).__name__}: {exc}"
        producer.cancel()
        finished, _ = await asyncio.wait({producer}, timeout=self._grace)
        if not finished:
            log.warning(
                "%s: runner ignored the abort; its later output is discarded", turn.session_id
            )
            turn.discard_output = True
        else:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                producer.result()
        return "aborted", None
