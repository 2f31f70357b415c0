"""What the store does after a failed sync, below the process: shared directory syncs,
journal generations rewritten from memory, appends cut back or removed."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from unittest import mock

import pytest

from plue_sidecar.store.disk import durable_io
from plue_sidecar.store.disk.durable_io import DirectorySyncer, DurableFiles
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import journal_path
from plue_sidecar.store.journal.journal import Journal, read_journal


def test_a_failed_shared_directory_sync_fails_every_caller_it_covered(tmp_path: Path) -> None:
    syncer = DirectorySyncer()
    started, release = threading.Event(), threading.Event()
    results: list[str] = []

    def failing_fsync(path: Path, *root: Root | None) -> None:
        started.set()
        release.wait(5)
        raise OSError(errno.EIO, "io")

    def sync() -> None:
        try:
            syncer.sync(tmp_path)
            results.append("ok")
        except OSError:
            results.append("failed")

    with mock.patch.object(durable_io, "fsync_directory", side_effect=failing_fsync):
        first = threading.Thread(target=sync)
        first.start()
        started.wait(5)
        # Queued while the failing sync runs: a later sync covers them, not that one.
        later = [threading.Thread(target=sync) for _ in range(3)]
        for thread in later:
            thread.start()
        release.set()
        for thread in [first, *later]:
            thread.join(5)
    assert results == ["failed"] * 4


def test_an_unexpected_error_in_a_directory_sync_reaches_its_caller_and_the_next_sync_works(
    tmp_path: Path,
) -> None:
    syncer = DirectorySyncer()
    bug = ValueError("a bug below the sync")
    with mock.patch.object(durable_io, "fsync_directory", side_effect=[bug, None]) as fsync:
        with pytest.raises(ValueError) as raised:
            syncer.sync(tmp_path)
        assert raised.value is bug
        syncer.sync(tmp_path)
    assert fsync.call_count == 2


def test_callers_waiting_on_a_directory_sync_that_raised_unexpectedly_are_released(
    tmp_path: Path,
) -> None:
    waits = threading.Semaphore(0)

    class CountedWaits(threading.Condition):
        """Tells the test each time a caller waits for the sync running."""

        def wait(self, timeout: float | None = None) -> bool:
            waits.release()
            return super().wait(timeout)

    with mock.patch.object(durable_io.threading, "Condition", CountedWaits):
        syncer = DirectorySyncer()
    started, release = threading.Event(), threading.Event()
    results: list[str] = []

    def first_raises(path: Path, *root: Root | None) -> None:
        if not started.is_set():
            started.set()
            release.wait(5)
            raise ValueError("a bug below the sync")

    def sync() -> None:
        try:
            syncer.sync(tmp_path)
            results.append("ok")
        except ValueError:
            results.append("the bug")

    with mock.patch.object(durable_io, "fsync_directory", side_effect=first_raises):
        first = threading.Thread(target=sync, daemon=True)
        first.start()
        assert started.wait(5)
        waiting = [threading.Thread(target=sync, daemon=True) for _ in range(3)]
        for thread in waiting:
            thread.start()
        for _ in waiting:
            assert waits.acquire(timeout=5), "a caller did not wait for the sync running"
        release.set()
        for thread in [first, *waiting]:
            thread.join(5)
    assert not any(thread.is_alive() for thread in [first, *waiting]), "callers left waiting"
    assert sorted(results) == ["ok", "ok", "ok", "the bug"]


def test_a_journal_generation_whose_sync_failed_is_rewritten_with_what_was_acknowledged(
    tmp_path: Path,
) -> None:
    journal = Journal(DurableFiles(tmp_path), tmp_path, 1)
    journal.append({"n": 1}).result(5)
    path = journal_path(tmp_path, 1)
    inode = path.stat().st_ino
    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=OSError(errno.EIO, "io")),
        mock.patch.object(durable_io, "datasync_fd", side_effect=OSError(errno.EIO, "io")),
        pytest.raises(OSError),
    ):
        journal.append({"n": 2}).result(5)
    journal.append({"n": 3}).result(5)
    assert path.stat().st_ino != inode, "the file was not rewritten"
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}, {"n": 3}]


def test_nothing_is_acknowledged_until_an_unknown_generation_is_rewritten(
    tmp_path: Path,
) -> None:
    journal = Journal(DurableFiles(tmp_path), tmp_path, 1)
    journal.append({"n": 1}).result(5)
    failing = OSError(errno.EIO, "io")
    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=failing),
        mock.patch.object(durable_io, "datasync_fd", side_effect=failing),
    ):
        for n in (2, 3):
            with pytest.raises(OSError):
                journal.append({"n": n}).result(5)
    journal.rotate()
    with (
        mock.patch.object(durable_io, "fsync_directory", side_effect=failing),
        pytest.raises(OSError),
    ):
        journal.append({"n": 4}).result(5)  # generation 1 cannot be rewritten yet
    journal.append({"n": 5}).result(5)
    journal.close()
    assert read_journal(Root(tmp_path), tmp_path).records == [{"n": 1}, {"n": 5}]


def test_a_first_append_that_fails_leaves_no_file(tmp_path: Path) -> None:
    files = DurableFiles(tmp_path)
    log = tmp_path / "log"
    with (
        mock.patch.object(durable_io.os, "write", side_effect=OSError(errno.ENOSPC, "full")),
        pytest.raises(OSError),
    ):
        files.append_durable(log, b"first\n")
    assert not log.exists()


def test_an_append_after_a_failed_cut_cuts_first(tmp_path: Path) -> None:
    files = DurableFiles(tmp_path)
    log = tmp_path / "log"
    files.append_durable(log, b"kept\n")
    files.append_durable(log, b"unacknowledged\n")
    with (
        mock.patch.object(durable_io, "fsync_fd", side_effect=OSError(errno.EIO, "io")),
        pytest.raises(OSError),
    ):
        files.truncate(log, 5)
    log.write_bytes(b"kept\nunacknowledged\n")  # as if the cut never reached the file
    files.append_durable(log, b"next\n")
    assert log.read_bytes() == b"kept\nnext\n"


def test_a_directory_whose_entry_sync_failed_is_made_and_synced_again(tmp_path: Path) -> None:
    files = DurableFiles(tmp_path)
    target = tmp_path / "month" / "doc.json"
    with (
        mock.patch.object(durable_io, "fsync_directory", side_effect=OSError(errno.EIO, "io")),
        pytest.raises(OSError),
    ):
        files.ensure_directory(target.parent)
    assert not target.parent.exists()
    synced: list[Path] = []
    real = durable_io.fsync_directory
    with mock.patch.object(
        durable_io,
        "fsync_directory",
        side_effect=lambda path, *root: (synced.append(path), real(path, *root)),
    ):
        files.write_atomic(target, b"doc")
    assert synced[0] == tmp_path
