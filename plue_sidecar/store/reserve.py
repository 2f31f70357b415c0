"""The space reserve: room kept aside so that a disk the sessions filled can be emptied.

Modelled on CockroachDB's emergency ballast. After the load the sidecar writes a file
of zeros, `reserve`, of min(1 MiB, an eighth of the disk) into the data directory. When
a delete finds the disk full, the reserve is released and the sidecar is low on space:
only deletes (and the compaction that frees their space) may write; every other write
answers `-32014` without trying, and checkpoints wait (see `Checkpointer.low_on_space`).
While low on space, deletes compact the journal (see `compaction`: it drops the records
of the sessions deleted) before less than half the reserve's size is free, and a delete
that still finds the disk full compacts and tries again. Compaction rewrites one
generation at a time and the journal's generations are kept to a quarter of the
reserve's size, so each rewrite fits in the room kept free (a disk filled to the last
byte could not even be compacted).

Once there is room for the reserve and as much again, it is taken back and every
write is accepted again; no restart needed.
"""

from __future__ import annotations

import errno
import logging
import threading

from plue_sidecar.store.journal.compaction import compact_generations
from plue_sidecar.store.session_store import SessionStore

log = logging.getLogger(__name__)
LARGEST_RESERVE = 1 << 20
SHARE_OF_DISK = 8
GENERATIONS_PER_RESERVE = 4


class SpaceReserve:
    """The reserve file and whether the sidecar is low on space. Its methods write, so
    they run on the store's threads; they are safe to call from several at once."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.size = 0
        self._held = False
        self._low_on_space = False
        self._deleted_since_compaction = False

    @property
    def generation_bytes(self) -> int:
        """The most a journal generation should hold: each is rewritten whole when the
        journal is compacted, in the room the reserve keeps free (0, no limit, on a disk
        that reports no size)."""
        return self.size // GENERATIONS_PER_RESERVE

    @property
    def low_on_space(self) -> bool:
        """The reserve was released and not yet taken back: only deletes may write."""
        return self._low_on_space

    def size_at_start(self) -> None:
        """Size the reserve for this disk; without its file and without room for it and
        as much again (a last run released it on a full disk), start low on space.
        Cheap: no write, so the start does not wait for the disk."""
        root = self._store.files.root_handle
        disk = root.statvfs()
        with self._lock:
            self.size = min(LARGEST_RESERVE, disk.f_blocks * disk.f_frsize // SHARE_OF_DISK)
            self._low_on_space = (
                not root.lexists(self._store.layout.reserve_file)
                and disk.f_bavail * disk.f_frsize < 2 * self.size
            )
            # The journal may hold the deletes of a last run, not yet compacted.
            self._deleted_since_compaction = self._low_on_space
        if self._low_on_space:
            log.warning(
                "the disk is nearly full: only deletes are accepted until the space "
                "reserve can be set aside"
            )

    def take_at_start(self) -> None:
        """Hold the reserve (keep the file a last run left); in the background."""
        path = self._store.layout.reserve_file
        with self._lock:
            self._remove_unfinished_reserves()
            if self._store.files.root_handle.lexists(path):
                self._held = True
                return
            if self._low_on_space or not self.size:
                return  # taken back once there is room (`leave_low_space`)
            try:
                self._store.files.write_atomic(path, bytes(self.size))
                self._held = True
            except OSError as exc:
                log.warning(
                    "could not set aside the space reserve (%s); a disk the "
                    "sessions fill may not be emptied by deleting them",
                    exc,
                )

    def _remove_unfinished_reserves(self) -> None:
        """Temporary files of a reserve a crash interrupted (its size is a waste)."""
        data_dir, reserve = self._store.layout.data_dir, self._store.layout.reserve_file
        unfinished = [
            data_dir / name
            for name in self._store.files.root_handle.listdir(data_dir)
            if name.startswith(f".{reserve.name}.") and name.endswith(".tmp")
        ]
        if unfinished:
            self._store.files.remove(unfinished)

    def deleted(self) -> None:
        """A delete is durable: compaction may have something to drop again."""
        self._deleted_since_compaction = True

    def make_room(self) -> bool:
        """Before a delete on a (nearly) full disk: release the reserve if it is held,
        else compact the journal if deletes since the last compaction left less than
        the room a compaction needs. Whether it released or freed anything."""
        with self._lock:
            if self._held:
                try:
                    self._store.files.remove([self._store.layout.reserve_file])
                except OSError as exc:
                    log.error("could not release the space reserve: %s", exc)
                    return False
                self._held = False
                self._low_on_space = True
                log.warning(
                    "the disk is full: the space reserve is released, and only "
                    "deletes are accepted until it can be taken back"
                )
                return True
            if self._deleted_since_compaction and self._free_bytes() < self.size // 2:
                return self._compact() > 0
            return False

    def leave_low_space(self) -> bool:
        """Take the reserve back if there is room for it and as much again; whether
        every write is accepted again."""
        with self._lock:
            if not self._low_on_space:
                return True
            if self._deleted_since_compaction:
                self._compact()
            if self._free_bytes() < 2 * self.size:
                return False
            try:
                self._store.files.write_atomic(self._store.layout.reserve_file, bytes(self.size))
            except OSError as exc:
                log.warning("could not take the space reserve back yet (%s)", exc)
                return False
            self._held = True
            self._low_on_space = False
            log.warning("the space reserve is taken back: every write is accepted again")
            return True

    def _compact(self) -> int:
        try:
            freed = self._store.journal.rewrite_generations(compact_generations)
        except OSError as exc:
            log.warning("could not compact the journal (%s)", exc)
            return 0
        self._deleted_since_compaction = False
        log.info("journal compacted: %d bytes freed", freed)
        return freed

    def _free_bytes(self) -> int:
        disk = self._store.files.root_handle.statvfs()
        return disk.f_bavail * disk.f_frsize


def full_disk() -> OSError:
    """The error a write refused while low on space answers."""
    return OSError(
        errno.ENOSPC, "No space left on device (only deletes are accepted until space is freed)"
    )
