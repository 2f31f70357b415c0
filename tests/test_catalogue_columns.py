"""Version 6 of the catalogue's body: columns, read one chunk at a time; a body that is
not the one its head describes is not used (every document is read instead)."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.catalogue import catalogue
from plue_sidecar.store.catalogue import columns as catalogue_columns
from plue_sidecar.store.catalogue.catalogue import Entry
from plue_sidecar.store.catalogue.stamp_rows import StampRows
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.files.layout import bucket_of
from plue_sidecar.store.files.stamps import Stamp, stamp_of
from plue_sidecar.store.session_store import SessionStore
from tests.harness.catalogue_files import edit_columns, loaded, stamped


def sessions() -> list[Session]:
    """Written oldest first: a parent in an earlier chunk, in the same chunk, in a later
    chunk (updated after its child) and not in the catalogue at all."""
    made = []
    parents = [
        None,
        "session_1795000000000",
        None,
        "session_1795000000006",
        "session_1795000000001",
        "session_1795000000099",
        "session_1795000000005",
    ]
    for i, parent in enumerate(parents):
        share = ShareRecord(secret=f"s{i}", created_at=1, expires_at=None) if i == 4 else None
        made.append(
            Session(
                SESSION_SCHEMA_VERSION,
                f"session_179500000000{i}",
                parent,
                f"title {i} é",
                1_795_000_000_000 + i,
                1_795_000_000_100 + i,
                i,
                i == 2,
                1_795_000_000_200 if i == 2 else None,
                "echo" if i == 3 else None,
                share,
            )
        )
    return made


def written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamps: dict[str, Stamp] | None = None
) -> list[Session]:
    monkeypatch.setattr(catalogue_columns, "CHUNK_ROWS", 2)
    store = SessionStore(tmp_path)
    store.open()
    made = sessions()
    for session in made:
        store.sessions.save_session(session)
    entries = [
        Entry(s, (stamps or {}).get(s.id) or stamp_of(os.stat(store.layout.document(s.id))))
        for s in made
    ]
    store.save_catalogue(stamped(entries), store.directory_mtimes(), time.time_ns() + 10**10)
    store.close()
    return made


@pytest.mark.parametrize("swapped", [False, True])
def test_columns_give_every_row_its_stamp_and_its_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: bool
) -> None:
    monkeypatch.setattr(catalogue_columns, "_SWAP", swapped)
    made = written(tmp_path, monkeypatch)
    head = orjson.loads((tmp_path / "catalogue.json").read_bytes().split(b"\n")[0])
    assert head["version"] == 6
    assert [place[1] for place in head["body"]["columns"]] == [2, 2, 2, 1]
    by_id, read, unverified = loaded(tmp_path)
    assert read == 0
    assert by_id == {s.id: s for s in made}
    assert unverified == {s.id: catalogue.checksum_of(s) for s in made}
    assert all(s.stamp is True for s in by_id.values())
    # A parent written before its child is held once.
    assert by_id["session_1795000000001"].parent_id is by_id["session_1795000000000"].id
    assert by_id["session_1795000000004"].parent_id is by_id["session_1795000000001"].id
    assert by_id["session_1795000000005"].parent_id == "session_1795000000099"


def test_a_stamp_beyond_64_bits_is_written_as_no_file_s_and_its_file_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = written(tmp_path, monkeypatch, {"session_1795000000003": (1, 2**64, 3)})
    directory = SessionStore(tmp_path).layout.document(made[0].id).parent
    os.utime(directory, ns=(time.time_ns(), time.time_ns() + 10**9))  # each file checked
    by_id, read, unverified = loaded(tmp_path)
    assert by_id == {s.id: s for s in made}
    assert read == 1
    assert "session_1795000000003" not in unverified


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 1
    path.write_bytes(bytes(data))


def _head_edit(path: Path, edit: Any) -> None:
    head_line, _, body = path.read_bytes().partition(b"\n")
    head = orjson.loads(head_line)
    edit(head)
    path.write_bytes(orjson.dumps(head) + b"\n" + body)


DAMAGE: dict[str, Any] = {
    "a byte flipped": _flip_a_byte,
    "cut short": lambda path: path.write_bytes(path.read_bytes()[:-5]),
    "a byte more": lambda path: path.write_bytes(path.read_bytes() + b"x"),
    "a chunk moved": lambda path: _head_edit(
        path, lambda head: head["body"]["columns"][1].__setitem__(2, 7)
    ),
    "a chunk's rows miscounted": lambda path: _head_edit(
        path, lambda head: head["body"]["columns"][0].__setitem__(1, 3)
    ),
    "no body": lambda path: _head_edit(path, lambda head: head.pop("body")),
    "a parent's row beyond the rows": lambda path: edit_columns(
        path, lambda columns: columns[2].__setitem__(-1, 99)
    ),
    "a parent's row below zero": lambda path: edit_columns(
        path, lambda columns: columns[2].__setitem__(-1, -1)
    ),
    "a column short": lambda path: edit_columns(path, lambda columns: columns[3].pop()),
    "a column missing": lambda path: edit_columns(path, lambda columns: columns.pop()),
    "a session twice": lambda path: edit_columns(
        path, lambda columns: columns[1].__setitem__(0, "session_1795000000006")
    ),
    "a share of the wrong shape": lambda path: edit_columns(
        path, lambda columns: columns[10].__setitem__(0, ["secret"])
    ),
    "not JSON": lambda path: (
        edit_columns(path, lambda columns: columns.__setitem__(slice(None), []))
        or path.write_bytes(path.read_bytes().replace(b"[]", b"[}"))
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_body_that_is_not_the_one_written_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    made = written(tmp_path, monkeypatch)
    DAMAGE[damage](tmp_path / "catalogue.json")
    by_id, read, _ = loaded(tmp_path)
    assert by_id == {s.id: s for s in made}
    assert read == len(made)


def test_a_save_holds_a_chunk_of_the_body_at_a_time_not_the_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body is written as it is made: held whole, it and the file made of it took
    about 25 MB of a save at 100,000 sessions."""
    monkeypatch.setattr(catalogue_columns, "CHUNK_ROWS", 512)
    made = [
        Session(
            SESSION_SCHEMA_VERSION,
            f"session_{1_795_000_000_000 + i}",
            None,
            f"{i} " + "t" * 400,
            1_795_000_000_000,
            1_795_000_000_000 + i,
            0,
            False,
            None,
            None,
            None,
        )
        for i in range(20_000)
    ]
    entries = [Entry(s, (i + 1, 1_795_000_000_000_000_000, 500)) for i, s in enumerate(made)]
    saved_to = catalogue.Catalogue(tmp_path / "catalogue.json", DurableFiles(tmp_path))
    tracemalloc.start()
    try:
        saved_to.save(stamped(entries), bucket_of, {}, time.time_ns(), False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    body = (tmp_path / "catalogue.json").stat().st_size
    assert body > 8 << 20
    assert peak < body / 2


def test_a_save_holds_little_beyond_the_entries_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside every session in memory, a save of 100,000 took 21 MB more: an entry for
    each, sorted into a second list, a new key for each, and a set beside the dict of
    the parents' rows. What is left is mostly that dict (four in five sessions here
    are parents)."""
    monkeypatch.setattr(catalogue_columns, "CHUNK_ROWS", 512)
    count = 20_000
    made = [
        Session(
            SESSION_SCHEMA_VERSION,
            f"session_{1_795_000_000_000 + i}",
            f"session_{1_795_000_000_000 + i - 1}" if i % 5 else None,
            f"title {i}",
            1_795_000_000_000 + i,
            1_795_000_000_000 + 2 * i,
            0,
            False,
            None,
            None,
            None,
        )
        for i in range(count)
    ]
    rows = StampRows([s.id for s in made])
    rows.extend(range(count), range(count), range(count))
    for held in made:
        held.stamp = True  # the catalogue's, as loaded
    saving = list(made)
    saved_to = catalogue.Catalogue(tmp_path / "catalogue.json", DurableFiles(tmp_path))
    tracemalloc.start()
    try:
        saved_to.save(saving, bucket_of, {}, time.time_ns(), False, stamp_rows=rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < count * 92  # 104 bytes a session before
    snapshot = saved_to.load()
    assert [s.id for directory in snapshot.directories.values() for s in directory.sessions] == [
        s.id for s in made
    ]
    assert [snapshot.rows[row] for row in range(count)] == [(i, i, i) for i in range(count)]
