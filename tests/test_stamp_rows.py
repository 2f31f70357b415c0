"""File stamps held packed: each session holds its own (or True for the one the
catalogue recorded, which the load's `StampRows` keeps), and gives the same answers as
a stamp per session id did, racy window included."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from plue_sidecar.core.index import SessionIndex
from plue_sidecar.models.records import SESSION_SCHEMA_VERSION, Session
from plue_sidecar.store.catalogue import stamp_rows as stamp_rows_module
from plue_sidecar.store.catalogue.catalogue import Entry
from plue_sidecar.store.catalogue.stamp_rows import RowWalk, StampRows
from plue_sidecar.store.checkpointer import Checkpointer
from plue_sidecar.store.disk.io_pool import IoPool
from plue_sidecar.store.files.stamps import stamp_of
from plue_sidecar.store.loading import LoadedData
from plue_sidecar.store.session_store import SessionStore
from tests.harness.catalogue_files import stamped


def session(number: int) -> Session:
    return Session(
        SESSION_SCHEMA_VERSION,
        f"session_17950000000{number:02}",
        None,
        f"title {number}",
        1_795_000_000_000,
        1_795_000_000_000 + number,
        0,
        False,
        None,
        None,
        None,
    )


def on_disk_stamp(store: SessionStore, session_id: str) -> tuple[int, int, int]:
    return stamp_of(os.stat(store.layout.document(session_id)))


def test_rows_give_back_each_stamp_and_those_still_held() -> None:
    rows = StampRows(["a", "b", "c"])
    assert rows.extend([7, 8], [10**18, -5], [100, 0]) == range(0, 2)
    assert rows.extend(iter([2**64 - 1]), iter([2**63 - 1]), iter([3])) == range(2, 3)
    assert [rows[i] for i in range(len(rows))] == [
        (7, 10**18, 100),
        (8, -5, 0),
        (2**64 - 1, 2**63 - 1, 3),
    ]
    assert rows.rows_of({"a", "c", "z"}) == {"a": 0, "c": 2}


@pytest.mark.parametrize(
    "inodes, mtimes, sizes, error",
    [
        ([1, -1], [1, 2], [1, 2], OverflowError),
        ([1, 2], [1, 2**63], [1, 2], OverflowError),
        ([1, 2], [1, 2], [1], ValueError),
        ([1, 2], [1, "2"], [1, 2], TypeError),
    ],
)
def test_rows_refuse_what_does_not_fit_and_keep_what_they_had(
    inodes: list[int],
    mtimes: list[int],
    sizes: list[int],
    error: type[Exception],
) -> None:
    rows = StampRows()
    rows.extend([5], [6], [7])
    with pytest.raises(error):
        rows.extend(inodes, mtimes, sizes)
    assert len(rows) == 1
    assert (len(rows.mtimes), len(rows.sizes)) == (1, 1)
    assert rows[0] == (5, 6, 7)


def test_the_stamp_is_not_part_of_the_document() -> None:
    held = session(1)
    held.stamp = True
    assert held == session(1)
    assert "stamp" not in repr(held) and "stamp" not in held.to_json()
    assert dataclasses.replace(held, title="changed").stamp is None


def saved(tmp_path: Path, count: int, taken_at_ns: int) -> list[Session]:
    store = SessionStore(tmp_path)
    store.open()
    made = [session(i) for i in range(count)]
    entries = [Entry(s, store.sessions.save_session(s)) for s in made]
    store.save_catalogue(stamped(entries), store.directory_mtimes(), taken_at_ns)
    store.close()
    return made


def reopened(tmp_path: Path) -> tuple[SessionStore, LoadedData]:
    store = SessionStore(tmp_path)
    return store, store.open()


def held_stamps(loaded: LoadedData) -> dict[str, tuple[int, int, int]]:
    by_id = {s.id: s for s in loaded.sessions}
    recorded = {
        session_id: loaded.stamp_rows[row]
        for session_id, row in loaded.stamp_rows.rows_of(set(by_id)).items()
    }
    stamps = {}
    for held in loaded.sessions:
        assert held.stamp is not None
        stamps[held.id] = recorded[held.id] if held.stamp is True else held.stamp
    return stamps


def test_sessions_from_a_trusted_directory_hold_their_files_stamps(tmp_path: Path) -> None:
    made = saved(tmp_path, 5, time.time_ns() + 10**10)
    store, loaded = reopened(tmp_path)
    assert loaded.documents_read == 0
    assert all(held.stamp is True for held in loaded.sessions)
    assert held_stamps(loaded) == {s.id: on_disk_stamp(store, s.id) for s in made}
    store.close()


def test_in_a_changed_directory_a_row_vouches_only_for_a_quiet_unchanged_file(
    tmp_path: Path,
) -> None:
    made = saved(tmp_path, 4, time.time_ns() + 10**10)
    store = SessionStore(tmp_path)
    store.open()
    edited = dataclasses.replace(made[1], title="edited behind the catalogue")
    store.sessions.save_session(edited)  # a new stamp; the directory changes too
    store.close()
    store, loaded = reopened(tmp_path)
    assert loaded.documents_read == 1
    by_id = {s.id: s for s in loaded.sessions}
    assert by_id[edited.id].title == edited.title
    assert held_stamps(loaded) == {s.id: on_disk_stamp(store, s.id) for s in made}
    store.close()


def test_a_row_recorded_within_the_racy_window_is_never_trusted(tmp_path: Path) -> None:
    made = saved(tmp_path, 3, time.time_ns())  # the files changed just before it
    store, loaded = reopened(tmp_path)
    assert loaded.documents_read == len(made)
    assert all(isinstance(held.stamp, tuple) for held in loaded.sessions)
    assert held_stamps(loaded) == {s.id: on_disk_stamp(store, s.id) for s in made}
    store.close()


def test_a_catalogue_saved_from_held_stamps_is_trusted_again(tmp_path: Path) -> None:
    made = saved(tmp_path, 4, time.time_ns() + 10**10)
    store, loaded = reopened(tmp_path)
    entries = [
        Entry(s, stamp)
        for s, stamp in zip(loaded.sessions, held_stamps(loaded).values(), strict=True)
    ]
    store.save_catalogue(stamped(entries), store.directory_mtimes(), time.time_ns() + 10**10)
    store.close()
    store, again = reopened(tmp_path)
    assert again.documents_read == 0
    assert {s.id for s in again.sessions} == {s.id for s in made}
    store.close()


def test_the_load_gives_each_id_number_once_and_the_highest_counts(tmp_path: Path) -> None:
    huge = "session_" + "9" * 32  # beyond 64 bits
    for ids, packed in (
        (["session_1795000000005", "session_1795000000003"], True),
        (["session_1795000000005", huge], False),
    ):
        data_dir = tmp_path / str(packed)
        store = SessionStore(data_dir)
        store.open()
        for session_id in ids:
            store.sessions.save_session(dataclasses.replace(session(0), id=session_id))
        store.close()
        store, loaded = reopened(data_dir)
        store.close()
        numbers = sorted(int(s.id.removeprefix("session_")) for s in loaded.sessions)
        assert loaded.high_water == numbers[-1]
        if packed:
            assert loaded.id_numbers is not None
            assert sorted(loaded.id_numbers) == numbers
        else:
            assert loaded.id_numbers is None


def test_a_catalogue_that_lists_a_session_twice_is_not_used(tmp_path: Path) -> None:
    made = saved(tmp_path, 2, time.time_ns() + 10**10)
    path = tmp_path / "catalogue.json"
    head, body = path.read_bytes().split(b"\n", 1)  # the body's binary part may hold one too
    twice = body.replace(made[1].id.encode(), made[0].id.encode())
    path.write_bytes(head + b"\n" + twice)
    store, loaded = reopened(tmp_path)
    assert loaded.documents_read == 2
    assert sorted(s.id for s in loaded.sessions) == [s.id for s in made]
    store.close()


async def test_the_checkpointer_lists_held_stamps_only_while_they_hold(tmp_path: Path) -> None:
    made = saved(tmp_path, 4, time.time_ns() + 10**10)
    store, loaded = reopened(tmp_path)
    index = SessionIndex(loaded.sessions)
    io = IoPool(2)
    checkpointer = Checkpointer(store, io, 1000)
    checkpointer.take_over(loaded, index, lambda: loaded.high_water)
    changed = dataclasses.replace(made[1], title="changed")
    async with checkpointer.journaled({"put": changed.to_json()}):
        old = index.get(changed.id)
        assert old is not None
        index.replace(old, changed)
    async with checkpointer.journaled({"delete": [made[2].id], "highWater": 0}):
        index.remove(made[2].id)
    snapshot, _, _, _ = checkpointer._catalogue_snapshot()
    assert snapshot.dirty == {changed.id}  # left out: it waits in the journal
    held = {d.id: d.stamp for d in snapshot.documents if d.id not in snapshot.dirty}
    assert held == {made[0].id: True, made[3].id: True}  # the catalogue's, in its rows
    walk = RowWalk(snapshot.rows)
    assert {session_id: walk.stamp(session_id, True) for session_id in held} == {
        s.id: on_disk_stamp(store, s.id) for s in (made[0], made[3])
    }
    checkpointer.close()  # writes it, then the catalogue
    io.shutdown()
    store.close()
    store, again = reopened(tmp_path)
    assert again.documents_read == 0
    assert {s.id: s.title for s in again.sessions} == {
        made[0].id: made[0].title,
        changed.id: "changed",
        made[3].id: made[3].title,
    }
    assert held_stamps(again) == {s.id: on_disk_stamp(store, s.id) for s in again.sessions}
    store.close()


@pytest.mark.parametrize(
    "asked",
    [
        [0, 1, 3, 5],  # as loaded, less what changed since
        [4, 5, 0, 1, 2, 3],  # a directory that moved: the walk starts over once
        [5, 4, 3, 2, 1, 0],  # every row behind the last: past the restarts, a dict
    ],
)
def test_a_row_walk_finds_each_sessions_own_row(
    asked: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stamp_rows_module, "MAX_WALK_RESTARTS", 3)
    ids = [f"session_17950000000{i:02}" for i in range(6)]
    rows = StampRows(ids)
    rows.extend(range(6), range(10, 16), range(20, 26))
    walk = RowWalk(rows)
    assert [walk.stamp(ids[i], True) for i in asked] == [(i, 10 + i, 20 + i) for i in asked]
    assert walk.stamp(ids[0], (7, 8, 9)) == (7, 8, 9)
    with pytest.raises(ValueError):
        walk.row("session_1795000000099")
