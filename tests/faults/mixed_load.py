"""A pipelined mixed workload against one sidecar, and what it was told was durable.

Workers share one model and keep several requests in flight over the one pipe: creates,
children, titles, appends up to 1 MiB, shares, tree deletes, forks and prompts. Each
session has at most one change in flight, so after a cut every session is either as
acknowledged or as acknowledged plus that one change. An answer that arrives after
the cut began is counted apart (a rig limit: a real power cut leaves no time to answer).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.harness.client import RpcError, SidecarProcess
from tests.harness.trees import descendants

BIG_MESSAGE = 1024 * 1024


@dataclass
class Known:
    """A session as acknowledged."""

    parent: str | None
    title: str
    messages: list[str] = field(default_factory=list)
    """Ids of the messages after the first `checked` ones."""
    checked: int = 0
    """Leading messages already checked (or copied by a fork): counted, ids not kept."""
    share: str | None = None


@dataclass
class Unsure:
    """A change in flight (or failed, or answered after the cut began) on one session."""

    titles: set[str] = field(default_factory=set)
    extra_messages: int = 0
    share: bool = False
    deleted: bool = False


@dataclass
class Figures:
    acknowledged: int = 0
    """Changes acknowledged before the cut began: each must survive it."""
    racing: int = 0
    """Changes answered after the cut began: counted apart, not checked."""
    refused_before_cut: list[str] = field(default_factory=list)


@dataclass
class Model:
    sessions: dict[str, Known] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    unsure: dict[str, Unsure] = field(default_factory=dict)
    creating: dict[str, str | None] = field(default_factory=dict)
    """Title of a create or fork not acknowledged before the cut -> its parent."""
    busy: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)
    """Sessions whose messages changed (or may have) since they were last checked."""
    counter: int = 0
    cut_started: bool = False
    figures: Figures = field(default_factory=Figures)

    def next_title(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def subtree(self, root: str) -> set[str]:
        return descendants(self.sessions, root)

    def unsure_of(self, session_id: str) -> Unsure:
        return self.unsure.setdefault(session_id, Unsure())


Step = Callable[[SidecarProcess, Model, random.Random], Awaitable[None]]


async def run_worker(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    steps: list[tuple[float, Step]] = [
        (15, create_root),
        (10, create_child),
        (15, retitle),
        (25, append_small),
        (4, append_big),
        (7, share),
        (5, delete_tree),
        (8, fork),
        (11, prompt),
    ]
    weights = [weight for weight, _ in steps]
    while not model.cut_started:
        (step,) = rng.choices([step for _, step in steps], weights)
        await step(sidecar, model, rng)
        await asyncio.sleep(0)


def idle(model: Model) -> list[str]:
    return sorted(set(model.sessions) - model.busy)


async def guarded(
    model: Model,
    claimed: set[str],
    request: Awaitable[Any],
    on_unsure: Callable[[], None],
) -> Any | None:
    """Await an answer for sessions `claimed`: the result if it came before the cut,
    else None, with `on_unsure` recording what may or may not have happened."""
    model.busy |= claimed
    try:
        result = await request
    except RpcError as failure:
        if not model.cut_started:
            model.figures.refused_before_cut.append(f"{failure.code} {failure.data}")
        on_unsure()
        return None
    except BaseException:
        on_unsure()  # cancelled at the cut, still in flight
        raise
    finally:
        model.busy -= claimed
    if model.cut_started:
        model.figures.racing += 1
        on_unsure()
        return None
    model.figures.acknowledged += 1
    return result


async def create_root(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    await created(sidecar, model, "session/create", {}, None)


async def create_child(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    choices = idle(model)
    if choices:
        parent = rng.choice(choices)
        await created(sidecar, model, "session/create", {"parentId": parent}, parent)


async def fork(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    choices = idle(model)
    if choices:
        source = rng.choice(choices)
        await created(sidecar, model, "session/fork", {"sessionId": source}, source)


async def created(
    sidecar: SidecarProcess,
    model: Model,
    method: str,
    params: dict[str, Any],
    parent: str | None,
) -> None:
    title = model.next_title("s")
    claimed = {parent} if parent else set()
    info = await guarded(
        model,
        claimed,
        sidecar.call(method, {**params, "title": title}),
        lambda: model.creating.__setitem__(title, parent),
    )
    if info is not None:
        model.sessions[info["id"]] = Known(parent, title, checked=info["messageCount"])


async def retitle(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    choices = idle(model)
    if not choices:
        return
    session_id = rng.choice(choices)
    title = model.next_title("t")
    params = {"sessionId": session_id, "title": title}
    if (
        await guarded(
            model,
            {session_id},
            sidecar.call("session/updateTitle", params),
            lambda: model.unsure_of(session_id).titles.add(title),
        )
        is not None
    ):
        model.sessions[session_id].title = title


async def append_small(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    await append(sidecar, model, rng, rng.randint(1, 2000))


async def append_big(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    await append(sidecar, model, rng, rng.randint(64 * 1024, BIG_MESSAGE))


async def append(sidecar: SidecarProcess, model: Model, rng: random.Random, size: int) -> None:
    choices = idle(model)
    if not choices:
        return
    session_id = rng.choice(choices)
    params = {
        "sessionId": session_id,
        "role": rng.choice(["user", "assistant"]),
        "parts": [{"type": "text", "text": "m" * size}],
    }
    model.touched.add(session_id)
    message = await guarded(
        model,
        {session_id},
        sidecar.call("message/append", params, 30),
        lambda: _one_more_message(model, session_id, 1),
    )
    if message is not None:
        model.sessions[session_id].messages.append(message["id"])


async def prompt(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    choices = idle(model)
    if not choices:
        return
    session_id = rng.choice(choices)
    params = {"sessionId": session_id, "parts": [{"type": "text", "text": "hello big world"}]}
    model.touched.add(session_id)
    turn = await guarded(
        model,
        {session_id},
        sidecar.call("session/prompt", params, 30),
        lambda: _one_more_message(model, session_id, 2),
    )
    if turn is not None:
        model.sessions[session_id].messages += [turn["userMessageId"], turn["assistantMessageId"]]


def _one_more_message(model: Model, session_id: str, count: int) -> None:
    model.unsure_of(session_id).extra_messages += count


async def share(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    choices = idle(model)
    if not choices:
        return
    session_id = rng.choice(choices)
    params = {"sessionId": session_id}
    shared = await guarded(
        model,
        {session_id},
        sidecar.call("session/share", params),
        lambda: setattr(model.unsure_of(session_id), "share", True),
    )
    if shared is not None:
        model.sessions[session_id].share = shared["secret"]


async def delete_tree(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    roots = [s for s in idle(model) if not model.subtree(s) & model.busy]
    if not roots or len(model.sessions) < 8:
        return
    root = rng.choice(roots)
    doomed = model.subtree(root)

    def maybe_deleted() -> None:
        for member in doomed:
            model.unsure_of(member).deleted = True

    params = {"sessionId": root}
    if (
        await guarded(model, doomed, sidecar.call("session/delete", params), maybe_deleted)
        is not None
    ):
        for member in doomed:
            model.sessions.pop(member, None)
            model.deleted.add(member)


async def all_sessions(sidecar: SidecarProcess) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = await sidecar.call("session/list", params)
        found.update({s["id"]: s for s in page["sessions"]})
        if page["nextCursor"] is None:
            return found
        params["cursor"] = page["nextCursor"]


async def message_ids(sidecar: SidecarProcess, session_id: str, after: int) -> list[str]:
    ids: list[str] = []
    while True:
        page = await sidecar.call(
            "message/list", {"sessionId": session_id, "afterSeq": after, "limit": 50}, 60
        )
        ids += [m["id"] for m in page["messages"]]
        if page["nextAfterSeq"] is None:
            return ids
        after = page["nextAfterSeq"]


async def check_and_adopt(sidecar: SidecarProcess, model: Model) -> list[str]:
    """Compare what a restarted sidecar serves with what was acknowledged; the problems.
    Then take what it serves as the new acknowledged state."""
    present = await all_sessions(sidecar)
    problems = [f"deleted {sid} came back" for sid in model.deleted if sid in present]
    for session_id, known in model.sessions.items():
        unsure = model.unsure.get(session_id, Unsure())
        info = present.get(session_id)
        if info is None:
            if not unsure.deleted:
                problems.append(f"acknowledged {session_id} is missing")
            continue
        problems += await _differences(
            sidecar, model, session_id, known=known, unsure=unsure, info=info
        )
    for session_id, info in present.items():
        if session_id not in model.sessions and (
            model.creating.get(info["title"], "-") != info["parentId"]
        ):
            problems.append(f"{session_id} {info['title']!r} was never asked for")
    model.sessions = {
        session_id: Known(
            info["parentId"],
            info["title"],
            checked=info["messageCount"],
            share=info["share"]["secret"] if info["share"] else None,
        )
        for session_id, info in present.items()
    }
    model.deleted |= set(model.unsure) - set(present)
    model.unsure.clear()
    model.creating.clear()
    model.touched.clear()
    return problems


async def _differences(
    sidecar: SidecarProcess,
    model: Model,
    session_id: str,
    *,
    known: Known,
    unsure: Unsure,
    info: dict[str, Any],
) -> list[str]:
    problems: list[str] = []
    where = f"{session_id}: "
    if info["title"] not in {known.title, *unsure.titles}:
        problems.append(f"{where}title {info['title']!r}, acknowledged {known.title!r}")
    if info["parentId"] != known.parent:
        problems.append(f"{where}parent {info['parentId']}, acknowledged {known.parent}")
    secret = info["share"]["secret"] if info["share"] else None
    if secret != known.share and not unsure.share:
        problems.append(f"{where}share {secret}, acknowledged {known.share}")
    acknowledged = known.checked + len(known.messages)
    if not acknowledged <= info["messageCount"] <= acknowledged + unsure.extra_messages:
        problems.append(f"{where}{info['messageCount']} messages, {acknowledged} acknowledged")
    elif known.messages or session_id in model.touched:
        ids = await message_ids(sidecar, session_id, known.checked)
        if ids[: len(known.messages)] != known.messages:
            problems.append(f"{where}messages {ids}, acknowledged {known.messages}")
    return problems
