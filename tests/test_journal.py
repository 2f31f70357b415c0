"""The journal on its own: records, torn tails, damage, group commit, failures, generations."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from unittest import mock

import pytest

from plue_sidecar.store import durable_io
from plue_sidecar.store.durable_io import DurableFiles
from plue_sidecar.store.journal import Journal, encode, read_journal
from plue_sidecar.store.journal_files import journal_path


def journal_in(directory: Path, generation: int = 1) -> Journal:
    return Journal(DurableFiles(directory), directory, generation)


def test_records_come_back_in_order_across_generations(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    assert journal.rotate() == 1
    journal.append({"n": 2}).result(5)
    journal.append({"n": 3}).result(5)
    journal.close()
    contents = read_journal(tmp_path)
    assert contents.records == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert contents.generations == [1, 2]
    assert contents.next_generation == 3
    assert (contents.problems, contents.torn) == ([], [])


def test_an_empty_or_missing_directory_has_no_records(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "missing").next_generation == 1
    assert read_journal(tmp_path).records == []


@pytest.mark.parametrize("tail", [
    encode({"n": 3})[:-1],  # cut before its newline
    encode({"n": 3})[:5],
    b"0000000 {",
])
def test_a_torn_last_record_is_an_unacknowledged_write_not_damage(
    tmp_path: Path, tail: bytes
) -> None:
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + encode({"n": 2}) + tail)
    contents = read_journal(tmp_path)
    assert contents.records == [{"n": 1}, {"n": 2}]
    assert contents.problems == []
    assert contents.torn == ["journal-000001.log ends in a record cut short"]


def test_a_last_record_that_fails_its_check_is_torn(tmp_path: Path) -> None:
    bad = encode({"n": 2}).replace(b"2", b"7")
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + bad)
    contents = read_journal(tmp_path)
    assert contents.records == [{"n": 1}]
    assert contents.torn == ["journal-000001.log ends in a record that fails its check"]


@pytest.mark.parametrize("bad", [b"garbage", b"", b"zzzzzzzz {}", b"00000000 []"])
def test_a_damaged_record_in_the_middle_is_skipped_and_reported(
    tmp_path: Path, bad: bytes
) -> None:
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + bad + b"\n" + encode({"n": 3}))
    contents = read_journal(tmp_path)
    assert contents.records == [{"n": 1}, {"n": 3}]
    assert contents.problems == ["journal-000001.log: record 2 is damaged and was skipped"]
    assert contents.torn == []


def test_concurrent_appends_share_syncs_and_each_waits_for_its_own(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    syncs = 0
    real_fsync = durable_io.fsync_fd

    def counting_fsync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        real_fsync(fd)

    start = threading.Barrier(32)

    def append(n: int) -> None:
        start.wait()
        for k in range(10):
            journal.append({"n": n, "k": k}).result(10)

    with mock.patch.object(durable_io, "fsync_fd", side_effect=counting_fsync):
        threads = [threading.Thread(target=append, args=(n,)) for n in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    journal.close()
    records = read_journal(tmp_path).records
    expected = [(n, k) for n in range(32) for k in range(10)]
    assert sorted((r["n"], r["k"]) for r in records) == expected
    assert syncs < len(records)


def test_a_failed_write_fails_its_batch_and_leaves_the_journal_as_it_was(
    tmp_path: Path,
) -> None:
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    before = journal_path(tmp_path, 1).read_bytes()
    with mock.patch.object(durable_io.os, "write", side_effect=OSError(errno.ENOSPC, "full")):
        failed = journal.append({"n": 2})
        with pytest.raises(OSError) as raised:
            failed.result(5)
    assert raised.value.errno == errno.ENOSPC
    assert journal_path(tmp_path, 1).read_bytes() == before
    journal.append({"n": 3}).result(5)
    journal.close()
    assert read_journal(tmp_path).records == [{"n": 1}, {"n": 3}]


def test_a_failed_sync_fails_its_batch_and_cuts_the_records_back(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    failing = OSError(errno.EIO, "io")
    with mock.patch.object(durable_io, "fsync_fd", side_effect=failing), pytest.raises(OSError):
        journal.append({"n": 2}).result(5)
    journal.close()
    assert read_journal(tmp_path).records == [{"n": 1}]


def test_removing_covered_generations_keeps_the_newer_ones(tmp_path: Path) -> None:
    journal = journal_in(tmp_path, generation=4)
    journal.append({"n": 1}).result(5)
    journal.rotate()
    journal.append({"n": 2}).result(5)
    journal.rotate()
    journal.append({"n": 3}).result(5)
    journal.remove_through(5)
    assert read_journal(tmp_path).generations == [6]
    journal.close()


def test_appending_after_close_is_refused(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.close()
    with pytest.raises(RuntimeError):
        journal.append({"n": 1})
