"""The journal on its own: records, torn tails, damage, group commit, failures, generations."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from pathlib import Path
from unittest import mock

import pytest

from plue_sidecar.store.disk import durable_io
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.disk.uninterrupted import Uninterrupted
from plue_sidecar.store.files.layout import journal_path
from plue_sidecar.store.journal.journal import Journal, encode, read_journal


def journal_in(directory: Path, generation: int = 1) -> Journal:
    return Journal(DurableFiles(directory), directory, generation)


def test_records_come_back_in_order_across_generations(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    assert journal.rotate() == 1
    journal.append({"n": 2}).result(5)
    journal.append({"n": 3}).result(5)
    journal.close()
    contents = read_journal(Root(tmp_path), tmp_path)
    assert contents.records == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert contents.generations == [1, 2]
    assert contents.next_generation == 3
    assert (contents.problems, contents.torn) == ([], [])


def test_an_empty_or_missing_directory_has_no_records(tmp_path: Path) -> None:
    assert read_journal(Root(tmp_path), tmp_path / "missing").next_generation == 1
    assert read_journal(Root(tmp_path), tmp_path).records == []


@pytest.mark.parametrize(
    "tail",
    [
        encode({"n": 3})[:-1],  # cut before its newline
        encode({"n": 3})[:5],
        b"0000000 {",
    ],
)
def test_a_torn_last_record_is_an_unacknowledged_write_not_damage(
    tmp_path: Path, tail: bytes
) -> None:
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + encode({"n": 2}) + tail)
    contents = read_journal(Root(tmp_path), tmp_path)
    assert contents.records == [{"n": 1}, {"n": 2}]
    assert contents.problems == []
    assert contents.torn == ["journal-000001.log ends in a record cut short"]


def test_a_last_record_that_fails_its_check_is_torn(tmp_path: Path) -> None:
    bad = encode({"n": 2}).replace(b"2", b"7")
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + bad)
    contents = read_journal(Root(tmp_path), tmp_path)
    assert contents.records == [{"n": 1}]
    assert contents.torn == ["journal-000001.log ends in a record that fails its check"]


@pytest.mark.parametrize("bad", [b"garbage", b"", b"zzzzzzzz {}", b"00000000 []"])
def test_a_damaged_record_in_the_middle_is_skipped_and_reported(tmp_path: Path, bad: bytes) -> None:
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + bad + b"\n" + encode({"n": 3}))
    contents = read_journal(Root(tmp_path), tmp_path)
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

    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=counting_fsync),
        mock.patch.object(durable_io, "datasync_fd", side_effect=counting_fsync),
    ):
        threads = [threading.Thread(target=append, args=(n,)) for n in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    journal.close()
    records = read_journal(Root(tmp_path), tmp_path).records
    expected = [(n, k) for n in range(32) for k in range(10)]
    assert sorted((r["n"], r["k"]) for r in records) == expected
    assert syncs < len(records)


def test_a_failed_write_fails_its_batch_and_leaves_the_journal_as_it_was(
    tmp_path: Path,
) -> None:
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    before = journal_path(tmp_path, 1).read_bytes().rstrip(b"\0")
    with mock.patch.object(durable_io.os, "pwrite", side_effect=OSError(errno.ENOSPC, "full")):
        failed = journal.append({"n": 2})
        with pytest.raises(OSError) as raised:
            failed.result(5)
    assert raised.value.errno == errno.ENOSPC
    assert journal_path(tmp_path, 1).read_bytes() == before
    journal.append({"n": 3}).result(5)
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}, {"n": 3}]


def test_a_failed_sync_fails_its_batch_and_cuts_the_records_back(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    failing = OSError(errno.EIO, "io")
    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=failing),
        mock.patch.object(durable_io, "datasync_fd", side_effect=failing),
        pytest.raises(OSError),
    ):
        journal.append({"n": 2}).result(5)
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}]


@pytest.mark.parametrize("failure", [ValueError("a bug"), MemoryError()])
def test_an_unexpected_error_fails_its_batch_and_the_journal_goes_on(
    tmp_path: Path, failure: BaseException
) -> None:
    """Not an OSError: a bug or a lack of memory inside one batch must cost that batch,
    not the flusher thread and with it every write after it (they would wait forever)."""
    journal = journal_in(tmp_path)
    journal.append({"n": 1}).result(5)
    with mock.patch.object(durable_io, "datasync_fd", side_effect=failure):
        failed = journal.append({"n": 2})
        with pytest.raises(OSError) as raised:
            failed.result(5)
    assert raised.value.errno == errno.EIO
    journal.append({"n": 3}).result(5)
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}, {"n": 3}]


def test_removing_covered_generations_keeps_the_newer_ones(tmp_path: Path) -> None:
    journal = journal_in(tmp_path, generation=4)
    journal.append({"n": 1}).result(5)
    journal.rotate()
    journal.append({"n": 2}).result(5)
    journal.rotate()
    journal.append({"n": 3}).result(5)
    journal.remove_through(5)
    assert read_journal(Root(tmp_path), tmp_path).generations == [6]
    journal.close()


def test_appending_after_close_is_refused(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.close()
    with pytest.raises(RuntimeError):
        journal.append({"n": 1})


# --- the zeros a generation holds ahead (see `append_log.AppendLog`) -----------------


def test_a_generation_is_written_over_zeros_and_synced_without_its_metadata(
    tmp_path: Path,
) -> None:
    journal = journal_in(tmp_path)
    journal.end_generations_at(64 * 1024)
    full: list[int] = []
    data_only: list[int] = []
    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=full.append),
        mock.patch.object(durable_io, "datasync_fd", side_effect=data_only.append),
    ):
        for n in range(5):
            journal.append({"n": n}).result(5)
    on_disk = journal_path(tmp_path, 1).read_bytes()
    assert len(on_disk) == 64 * 1024  # zeros ahead, written once
    assert on_disk.rstrip(b"\0") == b"".join(encode({"n": n}) for n in range(5))
    assert (len(full), len(data_only)) == (1, 4)
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": n} for n in range(5)]
    journal.close()
    assert journal_path(tmp_path, 1).read_bytes() == on_disk.rstrip(b"\0")


def test_zeros_at_the_end_of_a_generation_are_room_not_records(tmp_path: Path) -> None:
    records = encode({"n": 1}) + encode({"n": 2})
    journal_path(tmp_path, 1).write_bytes(records + bytes(4096))
    journal_path(tmp_path, 2).write_bytes(encode({"n": 3}) + bytes(1))
    contents = read_journal(Root(tmp_path), tmp_path)
    assert contents.records == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert (contents.problems, contents.torn) == ([], [])


BIG = {"n": 3, "text": "x" * 600}
"""A record longer than a disk block, so that a cut may land some blocks of it only."""


@pytest.mark.parametrize(
    "landed",
    [
        encode(BIG)[:7],  # the batch's first bytes only
        encode(BIG)[:-1],  # all but its newline
        bytes(512) + encode(BIG)[512:],  # a later block of it, not the first
        encode({"n": 4}) + bytes(512) + encode(BIG)[512:],  # a whole record, then a hole
    ],
)
def test_a_power_cut_in_the_zeros_is_a_torn_last_record(tmp_path: Path, landed: bytes) -> None:
    acknowledged = encode({"n": 1}) + encode({"n": 2})
    journal_path(tmp_path, 1).write_bytes(acknowledged + landed + bytes(4096))
    contents = read_journal(Root(tmp_path), tmp_path)
    assert contents.problems == []
    assert len(contents.torn) == 1
    # What follows the cut was never acknowledged: at most the whole records it holds.
    assert contents.records in ([{"n": 1}, {"n": 2}], [{"n": 1}, {"n": 2}, {"n": 4}])


def test_a_power_cut_that_left_nothing_over_the_zeros_is_a_clean_end(tmp_path: Path) -> None:
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + bytes(4096))
    contents = read_journal(Root(tmp_path), tmp_path)
    assert (contents.records, contents.problems, contents.torn) == ([{"n": 1}], [], [])


def test_a_journal_opened_on_a_generation_with_zeros_appends_after_its_records(
    tmp_path: Path,
) -> None:
    journal_path(tmp_path, 1).write_bytes(encode({"n": 1}) + bytes(1000))
    journal = journal_in(tmp_path)
    journal.append({"n": 2}).result(5)
    journal.close()
    assert journal_path(tmp_path, 1).read_bytes() == encode({"n": 1}) + encode({"n": 2})


def test_an_idle_journal_closes_its_file_and_opens_it_again(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    with mock.patch("plue_sidecar.store.journal.journal.IDLE_SECONDS", 0.01):
        journal.append({"n": 1}).result(5)
        deadline = time.monotonic() + 5
        while not _no_file_open(journal_path(tmp_path, 1)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _no_file_open(journal_path(tmp_path, 1))
        journal.append({"n": 2}).result(5)
    journal.close()
    assert journal_path(tmp_path, 1).read_bytes() == encode({"n": 1}) + encode({"n": 2})


def _no_file_open(path: Path) -> bool:
    fds = Path("/proc/self/fd")
    return not any(_points_at(fd, path) for fd in fds.iterdir())


def _points_at(fd: Path, path: Path) -> bool:
    try:
        return os.readlink(fd) == str(path)
    except OSError:
        return False


def test_a_disk_without_room_for_the_zeros_gets_the_records_alone(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.end_generations_at(64 * 1024)
    real_pwrite = os.pwrite

    def no_room_for_zeros(fd: int, data: bytes, offset: int) -> int:
        if len(data) > 1000:
            raise OSError(errno.ENOSPC, "full")
        return real_pwrite(fd, data, offset)

    with mock.patch.object(durable_io.os, "pwrite", side_effect=no_room_for_zeros):
        journal.append({"n": 1}).result(5)
        assert journal_path(tmp_path, 1).read_bytes() == encode({"n": 1})
        journal.append({"n": 2}).result(5)
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}, {"n": 2}]


async def test_waiters_on_a_loop_are_released_with_their_generation(tmp_path: Path) -> None:
    journal = journal_in(tmp_path, generation=3)
    results = await asyncio.gather(*(journal.append_on_loop({"n": n}) for n in range(20)))
    assert results == [3] * 20
    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=OSError(errno.EIO, "io")),
        mock.patch.object(durable_io, "datasync_fd", side_effect=OSError(errno.EIO, "io")),
    ):
        failed = await asyncio.gather(journal.append_on_loop({"n": 99}), return_exceptions=True)
    assert isinstance(failed[0], OSError) and failed[0].errno == errno.EIO
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": n} for n in range(20)]


async def test_a_write_cancelled_while_it_waits_for_its_sync_still_ends_with_it(
    tmp_path: Path,
) -> None:
    journal = journal_in(tmp_path, generation=2)
    uninterrupted = Uninterrupted()

    async def write() -> tuple[int, bool]:
        generation = await uninterrupted.finish(journal.append_on_loop({"n": 1}))
        return generation, uninterrupted.take_absorbed_cancel()

    task = asyncio.create_task(write())
    await asyncio.sleep(0)  # waiting for the sync, which can only end on this loop
    task.cancel()
    assert await task == (2, True)
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}]
