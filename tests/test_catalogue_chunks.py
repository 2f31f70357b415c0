"""The catalogue's body read one chunk at a time: version 6's columns, and version 5's
rows (read whole when it is not the body its head describes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store import catalogue
from plue_sidecar.store.catalogue import Entry
from plue_sidecar.store.layout import bucket_of
from plue_sidecar.store.session_store import SessionStore
from plue_sidecar.store.stamps import stamp_of
from tests.harness.catalogue_files import loaded, write_version_5


def sessions() -> list[Session]:
    made = []
    for i in range(7):
        parent = f"session_179500000000{i - 1}" if i % 3 else None
        share = ShareRecord(secret=f"s{i}", created_at=1, expires_at=None) if i == 4 else None
        made.append(
            Session(
                SESSION_SCHEMA_VERSION,
                f"session_179500000000{i}",
                parent,
                f"title {i}",
                1_795_000_000_000 + i,
                1_795_000_000_100 - i,
                i,
                False,
                None,
                None,
                share,
            )
        )
    return made


def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Session]:
    """Version 5's catalogue of `sessions`, two rows a chunk."""
    store = SessionStore(tmp_path)
    store.open()
    made = sessions()
    for session in made:
        store.save_session(session)
    entries = [Entry(s, stamp_of(os.stat(store.layout.document(s.id)))) for s in made]
    write_version_5(
        tmp_path / "catalogue.json",
        entries,
        {s.id: bucket_of(s.id) for s in made},
        store.directory_mtimes(),
        taken_at_ns=time.time_ns() + 10**10,
        chunk_rows=2,
    )
    store.close()
    return made


def test_chunks_give_every_row_and_its_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = written(tmp_path, monkeypatch)
    head = orjson.loads((tmp_path / "catalogue.json").read_bytes().split(b"\n")[0])
    assert len(head["body"]["chunks"]) == 4
    by_id, read, unverified = loaded(tmp_path)
    assert read == 0
    assert by_id == {s.id: s for s in made}
    assert unverified == {s.id: catalogue.checksum_of(s) for s in made}
    child = by_id["session_1795000000002"]
    assert child.parent_id is by_id["session_1795000000001"].id


@pytest.mark.parametrize("damage", ["offsets", "short", "overlap"])
def test_a_head_that_misplaces_the_chunks_falls_back_to_the_whole_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    made = written(tmp_path, monkeypatch)
    path = tmp_path / "catalogue.json"
    head_line, body = path.read_bytes().split(b"\n", 1)
    head = orjson.loads(head_line)
    chunks = head["body"]["chunks"]
    if damage == "offsets":
        chunks[1][1] += 3
    elif damage == "short":
        chunks[-1][2] += 10**6
    else:
        chunks[1][1] = chunks[0][1] - 1
    path.write_bytes(orjson.dumps(head) + b"\n" + body)
    by_id, read, _ = loaded(tmp_path)
    assert by_id == {s.id: s for s in made}
    assert read == 0


def test_a_checksum_beyond_32_bits_makes_the_catalogue_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = written(tmp_path, monkeypatch)
    path = tmp_path / "catalogue.json"
    head_line, body = path.read_bytes().split(b"\n", 1)
    rows = orjson.loads(body)
    for directory in rows["directories"].values():
        directory[0][-1] = 2**40
    path.write_bytes(head_line + b"\n" + orjson.dumps(rows))
    by_id, read, _ = loaded(tmp_path)
    assert by_id == {s.id: s for s in made}
    assert read == len(made)


def test_checksums_refuse_a_count_that_differs_from_the_ids() -> None:
    checksums = catalogue.Checksums()
    checksums.add("session_1795000000000", 1)
    with pytest.raises(ValueError):
        checksums.extend(["session_1795000000001"], [2, 3])
    assert list(checksums.items()) == [("session_1795000000000", 1)]
