"""A catalogue of an older version is rebuilt once, as a damaged one is: its rows are
not read, every document is, and the next start trusts the new catalogue."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from plue_sidecar.models.records import Session
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.catalogue import catalogue
from plue_sidecar.store.catalogue.head import CATALOGUE_VERSION
from plue_sidecar.store.session_store import SessionStore
from tests.harness.catalogue_files import loaded


def session(number: int) -> Session:
    return Session(
        SESSION_SCHEMA_VERSION,
        f"session_179500000000{number}",
        None,
        f"title {number}",
        1_795_000_000_000 + number,
        1_795_000_000_100 + number,
        number,
        False,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("version", [5, CATALOGUE_VERSION + 1])
def test_a_catalogue_of_another_version_is_rebuilt_once(tmp_path: Path, version: int) -> None:
    store = SessionStore(tmp_path)
    store.open()
    made = [session(number) for number in range(5)]
    for each in made:
        store.sessions.save_session(each)
    older_head = {
        "version": version,
        "takenAt": time.time_ns() + 10**10,
        "mtimes": store.directory_mtimes(),
        "complete": False,
        "body": {"length": 18, "crc": 0, "chunks": []},
    }
    (tmp_path / "catalogue.json").write_bytes(
        orjson.dumps(older_head) + b"\n" + b'{"directories":{}}'
    )
    store.close()

    by_id, read, _ = loaded(tmp_path)
    assert by_id == {each.id: each for each in made}
    assert read == len(made)
    store = SessionStore(tmp_path)
    rebuilt = list(store.open().sessions)
    # Taken "later" than now, so that files written a moment ago are vouched for.
    store.save_catalogue(rebuilt, store.directory_mtimes(), time.time_ns() + 10**10)
    store.close()
    head = orjson.loads((tmp_path / "catalogue.json").read_bytes().split(b"\n")[0])
    assert head["version"] == CATALOGUE_VERSION

    by_id, read, _ = loaded(tmp_path)
    assert by_id == {each.id: each for each in made}
    assert read == 0


def test_checksums_refuse_a_count_that_differs_from_the_ids() -> None:
    checksums = catalogue.Checksums()
    checksums.add("session_1795000000000", 1)
    with pytest.raises(ValueError):
        checksums.extend(["session_1795000000001"], [2, 3])
    assert list(checksums.items()) == [("session_1795000000000", 1)]
