"""The store on its own: every failure path of writing, reading and opening."""

from __future__ import annotations

import calendar
import dataclasses
import errno
import os
import stat
import threading
import time
from pathlib import Path
from unittest import mock

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plue_sidecar.errors import storage_error
from plue_sidecar.models.parts import TextPart
from plue_sidecar.models.records import MessageRecord, Session, SessionDocument, ShareRecord
from plue_sidecar.store.catalogue.catalogue import Entry, Head
from plue_sidecar.store.disk import durable_io
from plue_sidecar.store.disk.durable_io import DirectorySyncer, DurableFiles
from plue_sidecar.store.disk.lock import DataDirLock, DataDirLockedError
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import Layout, bucket_of, session_id_of
from plue_sidecar.store.files.message_log import encode_record, parse_log
from plue_sidecar.store.files.stamps import quiet_before, stamp_of
from plue_sidecar.store.session_store import SessionStore
from tests.harness.catalogue_files import stamped

SID = "session_1795000000000"


def document(session_id: str = SID, **changes: object) -> Session:
    fields: dict[str, object] = {
        "id": session_id,
        "title": "t",
        "created_at": 1,
        "updated_at": 1,
        **changes,
    }
    return Session.from_document(SessionDocument.model_validate(fields))


def record(seq: int, session_id: str = SID) -> MessageRecord:
    return MessageRecord(
        id=f"msg_{seq}",
        session_id=session_id,
        seq=seq,
        role="user",
        parts=[TextPart(text=f"m{seq}")],
        created_at=seq,
    )


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if p.name.endswith(".tmp")]


# --- durable files -------------------------------------------------------------


def test_atomic_write_replaces_whole_and_uses_private_modes(tmp_path: Path) -> None:
    files = DurableFiles(tmp_path)
    target = tmp_path / "a" / "b" / "doc.json"
    files.write_atomic(target, b"one")
    files.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    ("function", "code"),
    [
        ("write", errno.ENOSPC),
        ("fsync", errno.EIO),
        ("replace", errno.EROFS),
    ],
)
def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, function: str, code: int
) -> None:
    files = DurableFiles(tmp_path)
    target = tmp_path / "doc.json"
    files.write_atomic(target, b"old")
    with (
        mock.patch.object(durable_io.os, function, side_effect=OSError(code, "boom")),
        pytest.raises(OSError) as raised,
    ):
        files.write_atomic(target, b"new")
    assert raised.value.errno == code
    assert target.read_bytes() == b"old"
    assert no_temp_files(tmp_path)


def test_a_batched_write_replaces_every_file_durably(tmp_path: Path) -> None:
    files = DurableFiles(tmp_path)
    targets = [tmp_path / f"d{n % 3}" / f"{n}.json" for n in range(450)]
    files.write_many_atomic([(path, b"old") for path in targets])
    files.write_many_atomic([(path, path.name.encode()) for path in targets])
    assert all(path.read_bytes() == path.name.encode() for path in targets)
    assert {stat.S_IMODE(path.stat().st_mode) for path in targets} == {0o600}
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    ("function", "fail_on"),
    [
        ("write", 3),
        ("fsync", 2),
        ("replace", 3),
    ],
)
def test_a_failed_batched_write_leaves_no_temp_and_no_torn_file(
    tmp_path: Path, function: str, fail_on: int
) -> None:
    files = DurableFiles(tmp_path)
    targets = [tmp_path / f"{n}.json" for n in range(5)]
    files.write_many_atomic([(path, b"old") for path in targets])
    real = getattr(durable_io.os, function)
    calls = 0

    def failing(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == fail_on:
            raise OSError(errno.ENOSPC, "full")
        return real(*args, **kwargs)

    with mock.patch.object(durable_io.os, function, side_effect=failing), pytest.raises(OSError):
        files.write_many_atomic([(path, b"new") for path in targets])
    contents = [path.read_bytes() for path in targets]
    assert set(contents) <= {b"old", b"new"}
    if function != "replace":
        assert contents == [b"old"] * 5
    assert no_temp_files(tmp_path)


def test_a_failed_append_cuts_the_file_back(tmp_path: Path) -> None:
    files = DurableFiles(tmp_path)
    log = tmp_path / "log"
    files.append_durable(log, b"first\n")
    real_write = os.write

    def half_then_full(fd: int, data: object) -> int:
        if os.fstat(fd).st_size > 6:
            raise OSError(errno.ENOSPC, "full")
        return real_write(fd, bytes(data)[:3])  # type: ignore[call-overload]

    with (
        mock.patch.object(durable_io.os, "write", side_effect=half_then_full),
        pytest.raises(OSError),
    ):
        files.append_durable(log, b"second\n")
    assert log.read_bytes() == b"first\n"


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    root = tmp_path / "data"
    root.mkdir()
    (root / "doc.json").symlink_to(outside)
    DurableFiles(root).write_atomic(root / "doc.json", b"mine")
    assert outside.read_bytes() == b"precious"
    assert not (root / "doc.json").is_symlink()


def test_appends_never_follow_a_planted_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    (tmp_path / "log").symlink_to(outside)
    with pytest.raises(OSError) as raised:
        DurableFiles(tmp_path).append_durable(tmp_path / "log", b"x")
    assert raised.value.errno == errno.ELOOP
    assert outside.read_bytes() == b"precious"


def test_concurrent_writers_share_directory_fsyncs(tmp_path: Path) -> None:
    syncer = DirectorySyncer()
    calls = []
    gate = threading.Event()

    def slow_fsync(path: Path, *root: Root | None) -> None:
        calls.append(path)
        gate.wait(0.05)

    with mock.patch.object(durable_io, "fsync_directory", side_effect=slow_fsync):
        threads = [threading.Thread(target=syncer.sync, args=(tmp_path,)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert 1 <= len(calls) < 20


def test_a_failed_directory_fsync_reaches_the_caller_and_the_next_one_retries(
    tmp_path: Path,
) -> None:
    syncer = DirectorySyncer()
    with (
        mock.patch.object(durable_io, "fsync_directory", side_effect=OSError(errno.EIO, "x")),
        pytest.raises(OSError),
    ):
        syncer.sync(tmp_path)
    syncer.sync(tmp_path)


def test_removing_missing_files_is_fine(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.write_bytes(b"x")
    DurableFiles(tmp_path).remove([tmp_path / "nothing", kept])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- message logs --------------------------------------------------------------


def log_bytes(*seqs: int) -> bytes:
    return b"".join(encode_record(record(seq)) for seq in seqs)


def test_a_torn_last_record_is_dropped() -> None:
    whole = log_bytes(1, 2)
    contents = parse_log(whole + encode_record(record(3))[:20], SID, 2)
    assert [r.seq for r in contents.records] == [1, 2]
    assert contents.keep_bytes == len(whole)
    assert contents.has_droppable_tail and contents.damage is None


def test_an_invalid_last_line_is_dropped() -> None:
    contents = parse_log(log_bytes(1) + b"{nonsense\n", SID, 1)
    assert [r.seq for r in contents.records] == [1]
    assert contents.damage is None


def test_an_unacknowledged_last_record_is_dropped() -> None:
    contents = parse_log(log_bytes(1, 2), SID, 1)
    assert [r.seq for r in contents.records] == [1]
    assert contents.has_droppable_tail


@pytest.mark.parametrize("bad", [b"{nonsense", b"\x00\x00\x00", b'{"v":1}', b"[]"])
def test_a_corrupt_record_in_the_middle_keeps_what_precedes_and_marks_damage(bad: bytes) -> None:
    contents = parse_log(log_bytes(1) + bad + b"\n" + log_bytes(3), SID, 3)
    assert [r.seq for r in contents.records] == [1]
    assert contents.damage is not None
    assert not contents.has_droppable_tail


def test_a_log_shorter_than_acknowledged_is_damage() -> None:
    contents = parse_log(log_bytes(1), SID, 2)
    assert contents.damage is not None


def test_reading_a_log_cuts_its_torn_tail_on_disk(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    path = store.layout.message_log(SID)
    DurableFiles(tmp_path).write_atomic(path, log_bytes(1) + b'{"torn')
    contents = store.sessions.read_messages(SID, 1)
    assert len(contents.records) == 1
    assert path.read_bytes() == log_bytes(1)


def test_a_damaged_log_is_never_rewritten(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    path = store.layout.message_log(SID)
    damaged = log_bytes(1) + b"garbage\n" + log_bytes(3)
    DurableFiles(tmp_path).write_atomic(path, damaged)
    assert store.sessions.read_messages(SID, 3).damage is not None
    assert path.read_bytes() == damaged


# --- opening a data directory ----------------------------------------------------


def write_raw(store: SessionStore, session_id: str, raw: bytes) -> Path:
    path = store.layout.document(session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 64,
        b"{not json",
        b'{"id": 5}',
        b"[1, 2]",
        orjson.dumps({"id": "session_1795000000009", "title": "t", "createdAt": 1, "updatedAt": 1}),
    ],
)
def test_one_bad_document_is_quarantined_and_every_other_session_loads(
    tmp_path: Path, raw: bytes
) -> None:
    store = SessionStore(tmp_path)
    for session_id in ("session_1795000000001", "session_1795000000003"):
        store.sessions.save_session(document(session_id))
    bad = write_raw(store, "session_1795000000002", raw)
    loaded = store.open()
    store.close()
    assert sorted(d.id for d in loaded.sessions) == [
        "session_1795000000001",
        "session_1795000000003",
    ]
    assert not bad.exists()
    assert loaded.quarantined == [bad.name]
    assert [p.name.startswith(bad.name) for p in (tmp_path / "quarantine").iterdir()] == [True]


def test_a_quarantined_document_s_move_is_made_durable_in_both_directories(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path)
    store.sessions.save_session(document("session_1795000000001"))
    bad = write_raw(store, "session_1795000000002", b"{not json")
    synced: list[Path] = []
    real_sync = durable_io.fsync_directory

    def recording_sync(path: Path, *root: Root) -> None:
        synced.append(path)
        real_sync(path, *root)

    with mock.patch.object(durable_io, "fsync_directory", side_effect=recording_sync):
        loaded = store.open()
    store.close()
    assert loaded.quarantined == [bad.name]
    assert bad.parent in synced
    assert tmp_path / "quarantine" in synced


def test_a_document_from_a_newer_sidecar_is_loaded_read_only_and_left_untouched(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path)
    raw = orjson.dumps({**document().to_json(), "schemaVersion": 99, "futureField": [1]})
    path = write_raw(store, SID, raw)
    loaded = store.open()
    store.close()
    assert [d.id for d in loaded.sessions] == [SID]
    assert "newer" in loaded.read_only[SID]
    assert path.read_bytes() == raw


def test_leftover_temp_files_are_removed_at_open(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.sessions.save_session(document())
    leftover = store.layout.document(SID).with_name(f".{SID}.json.abc.tmp")
    leftover.write_bytes(b"half")
    store.open()
    store.close()
    assert not leftover.exists()


def test_an_interrupted_delete_is_finished_at_open(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.sessions.save_session(document())
    store.sessions.append_message(SID, encode_record(record(1)))
    store.sessions.save_session(document("session_1795000000005"))
    store.files.write_atomic(
        store.layout.tombstone_file, orjson.dumps({"sessionIds": [SID], "highWater": 1795000000007})
    )
    loaded = store.open()
    store.close()
    assert [d.id for d in loaded.sessions] == ["session_1795000000005"]
    assert not store.layout.message_log(SID).exists()
    assert not store.layout.tombstone_file.exists()
    assert loaded.high_water == 1795000000007


def test_an_unreadable_tombstone_or_state_file_does_not_stop_the_open(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.sessions.save_session(document())
    tmp_path.joinpath("tombstone.json").write_bytes(b"{half")
    tmp_path.joinpath("state.json").write_bytes(b"junk")
    loaded = store.open()
    store.close()
    assert [d.id for d in loaded.sessions] == [SID]
    assert loaded.high_water == 1795000000000


def test_the_lock_names_its_holder_and_is_released_on_close(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    with pytest.raises(DataDirLockedError) as raised:
        DataDirLock(tmp_path).acquire()
    assert raised.value.holder_pid == os.getpid()
    first.release()
    second = DataDirLock(tmp_path)
    second.acquire()
    second.release()


def test_paths_are_only_built_from_session_ids(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    with pytest.raises(ValueError):
        layout.document("../../etc/passwd")
    assert layout.session_dir("session_1795000000000").parts[-2:] == ("2026", "11")
    assert "far" in layout.session_dir("session_99999999999999999999").parts
    with pytest.raises(ValueError):
        bucket_of("session_1/../..")
    for session_id in (
        "session_1795000000000",
        "session_0000000000000",
        "session_99999999999999999999",
    ):
        assert layout.session_dir(session_id) == layout.sessions_dir / bucket_of(session_id)


def test_a_name_with_a_newline_after_the_id_is_not_a_session_s() -> None:
    session_id = "session_1795000000000"
    assert session_id_of(f"{session_id}.json") == session_id
    assert session_id_of(f"{session_id}\n.json") is None
    with pytest.raises(ValueError):
        bucket_of(f"{session_id}\n")


_PART = st.sampled_from(["data", "sessions", "2026", "x.json", "..", ".", "datax", "d"])


@given(root=st.lists(_PART, max_size=3), below=st.lists(_PART, max_size=4), absolute=st.booleans())
def test_a_path_below_the_root_is_opened_relative_to_it(
    root: list[str], below: list[str], absolute: bool
) -> None:
    root_path = Path("/" if absolute else ".", *root)
    path = Path("/" if absolute else ".", *below)
    fd = os.open("/", os.O_RDONLY)
    try:
        expected = str(path.relative_to(root_path)) if path.is_relative_to(root_path) else str(path)
        assert Root(root_path, fd).at(path) == expected
        assert Root(root_path).at(path) == str(path)  # no descriptor: the full path
    finally:
        os.close(fd)


def test_a_session_s_month_is_right_on_either_side_of_a_month_s_start() -> None:
    starts = [
        calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
        for year in (1971, 2024, 2026, 2099)
        for month in range(1, 13)
    ]
    for millis in [start + offset for start in starts for offset in (-1, 0, 1)] * 2:
        expected = time.strftime("%Y/%m", time.gmtime(millis // 1000))
        assert bucket_of(f"session_{millis:013d}") == expected


# --- the catalogue --------------------------------------------------------------


def reopen(tmp_path: Path) -> tuple[SessionStore, list[str], int, bool]:
    store = SessionStore(tmp_path)
    loaded = store.open()
    store.close()
    ids = sorted(session.id for session in loaded.sessions)
    return store, ids, loaded.documents_read, loaded.catalogue_stale


def opened_once(tmp_path: Path) -> SessionStore:
    """A store whose data directory has been opened (and so marked migrated) before."""
    store = SessionStore(tmp_path)
    store.open()
    store.close()
    return store


def write_catalogue(store: SessionStore, sessions: list[Session], taken_at_ns: int) -> None:
    entries = [
        Entry(session, stamp_of(os.stat(store.layout.document(session.id)))) for session in sessions
    ]
    store.save_catalogue(stamped(entries), store.directory_mtimes(), taken_at_ns)


def test_a_fresh_catalogue_vouches_for_quiet_directories_without_reading_files(
    tmp_path: Path,
) -> None:
    store = opened_once(tmp_path)
    sessions = [document(f"session_179500000000{i}") for i in range(5)]
    for session in sessions:
        store.sessions.save_session(session)
    write_catalogue(store, sessions, time.time_ns() + 10**10)
    _, ids, read, stale = reopen(tmp_path)
    assert ids == sorted(s.id for s in sessions)
    assert (read, stale) == (0, False)


def test_a_changed_document_is_read_again_and_the_catalogue_marked_stale(tmp_path: Path) -> None:
    store = opened_once(tmp_path)
    sessions = [document(f"session_179500000000{i}") for i in range(5)]
    for session in sessions:
        store.sessions.save_session(session)
    write_catalogue(store, sessions, time.time_ns() + 10**10)
    store.sessions.save_session(dataclasses.replace(sessions[2], title="renamed"))
    reopened = SessionStore(tmp_path)
    loaded = reopened.open()
    reopened.close()
    assert loaded.documents_read == 1
    assert loaded.catalogue_stale
    titles = {s.id: s.title for s in loaded.sessions}
    assert titles[sessions[2].id] == "renamed"


def test_a_directory_changed_near_the_snapshot_is_checked_file_by_file(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    session = document()
    store.sessions.save_session(session)
    write_catalogue(store, [session], time.time_ns())
    path = store.layout.document(session.id)
    edited = dataclasses.replace(session, title="edited in place").to_json()
    path.write_bytes(orjson.dumps(edited))
    reopened = SessionStore(tmp_path)
    loaded = reopened.open()
    reopened.close()
    assert [s.title for s in loaded.sessions] == ["edited in place"]


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{half",
        b'{"version": 99}',
        b'{"version": 2}',
        b'{"version":2,"takenAt":1,"directories":{"2026/11":{"mtime":1,"rows":[[1,2]]}}}',
        b'{"version":3,"takenAt":1,"mtimes":{},"complete":false}\n{',
        b'{"version":3,"takenAt":1,"mtimes":{}}\n{"directories":{}}',
    ],
)
def test_a_missing_or_damaged_catalogue_is_rebuilt_from_the_documents(
    tmp_path: Path, damage: bytes
) -> None:
    store = SessionStore(tmp_path)
    store.sessions.save_session(document())
    (tmp_path / "catalogue.json").write_bytes(damage)
    _, ids, read, stale = reopen(tmp_path)
    assert ids == [SID]
    assert read == 1 and stale


def test_sessions_deleted_behind_the_catalogues_back_are_gone(tmp_path: Path) -> None:
    store = opened_once(tmp_path)
    kept, gone = document("session_1795000000001"), document("session_1795000000002")
    store.sessions.save_session(kept)
    store.sessions.save_session(gone)
    write_catalogue(store, [kept, gone], time.time_ns() + 10**10)
    store.layout.document(gone.id).unlink()
    _, ids, _, stale = reopen(tmp_path)
    assert ids == [kept.id]
    assert stale


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOSPC, (-32014, "storage_full", None)),
        (errno.EDQUOT, (-32014, "storage_full", None)),
        (errno.EROFS, (-32015, "storage_unavailable", "read_only")),
        (errno.EACCES, (-32015, "storage_unavailable", "permission")),
        (errno.EPERM, (-32015, "storage_unavailable", "permission")),
        (errno.EIO, (-32015, "storage_unavailable", "io")),
    ],
)
def test_disk_errors_map_to_the_two_storage_errors(code: int, expected: tuple[object, ...]) -> None:
    error = storage_error(OSError(code, os.strerror(code)))
    assert (error.code, error.kind, error.data.get("reason")) == expected


def test_a_symlink_planted_at_the_temp_path_is_refused_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    root = tmp_path / "data"
    root.mkdir()
    target = root / "doc.json"
    target.write_bytes(b"old")
    (root / ".doc.json.planted.tmp").symlink_to(outside)
    with (
        mock.patch.object(durable_io.secrets, "token_hex", return_value="planted"),
        pytest.raises(OSError) as raised,
    ):
        DurableFiles(root).write_atomic(target, b"new")
    assert raised.value.errno == errno.EEXIST
    assert outside.read_bytes() == b"precious"
    assert target.read_bytes() == b"old"


# --- the journal at open -------------------------------------------------------


def test_the_journal_is_replayed_on_top_of_the_documents(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.open()
    store.sessions.save_session(document(title="in the file"))
    store.journal.append({"put": document(title="in the journal").to_json()}).result(5)
    fresh = document("session_1795000000009", title="only in the journal")
    store.journal.append({"put": fresh.to_json()}).result(5)
    store.close()
    reopened = SessionStore(tmp_path)
    loaded = reopened.open()
    assert sorted((s.id, s.title) for s in loaded.sessions) == [
        (SID, "in the journal"),
        (fresh.id, "only in the journal"),
    ]
    assert loaded.replayed == {SID, fresh.id}
    reopened.close()


def test_a_delete_in_the_journal_is_finished_at_open_and_keeps_its_high_water(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path)
    store.open()
    store.sessions.save_session(document())
    store.sessions.append_message(SID, encode_record(record(1)))
    store.journal.append({"delete": [SID], "highWater": 1795000000042}).result(5)
    store.close()
    reopened = SessionStore(tmp_path)
    loaded = reopened.open()
    assert loaded.sessions == []
    assert loaded.deleted == {SID}
    assert loaded.high_water == 1795000000042
    assert not [p for p in tmp_path.rglob(f"{SID}*")]
    reopened.close()


def test_the_message_log_of_a_session_only_the_journal_holds_is_kept(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.open()
    store.sessions.write_messages(SID, [record(1)])
    store.journal.append({"put": document(message_count=1).to_json()}).result(5)
    store.sessions.write_messages("session_1795000000001", [record(1, "session_1795000000001")])
    store.close()
    reopened = SessionStore(tmp_path)
    reopened.open()
    assert reopened.layout.message_log(SID).exists()
    assert not reopened.layout.message_log("session_1795000000001").exists()
    assert [r.seq for r in reopened.sessions.read_messages(SID, 1).records] == [1]
    reopened.close()


def test_a_journal_record_that_is_not_a_document_is_skipped(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.open()
    store.journal.append({"put": {"schemaVersion": 1, "id": SID}}).result(5)
    store.journal.append({"put": document("session_1795000000001").to_json()}).result(5)
    store.close()
    reopened = SessionStore(tmp_path)
    assert [s.id for s in reopened.open().sessions] == ["session_1795000000001"]
    reopened.close()


def test_a_checkpoint_writes_the_documents_and_cuts_the_journal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.open()
    kept, gone = document(title="kept"), document("session_1795000000001")
    store.sessions.save_session(gone)
    store.journal.append({"put": kept.to_json()}).result(5)
    covered = store.journal.rotate()
    written = store.checkpoint([kept], [gone.id], 1795000000077, covered)
    assert [entry.document for entry in written.documents] == [kept]
    assert written.documents[0].stamp == stamp_of(os.stat(store.layout.document(SID)))
    assert not store.layout.document(gone.id).exists()
    assert not list(tmp_path.rglob("journal-*.log"))
    store.close()
    reopened = SessionStore(tmp_path)
    loaded = reopened.open()
    assert [s.title for s in loaded.sessions] == ["kept"]
    assert loaded.high_water == 1795000000077
    assert loaded.replayed == set()
    reopened.close()


def preview(data_dir: Path) -> Head | None:
    store = SessionStore(data_dir)
    try:
        return store.open_preview()
    finally:
        store.close()


def test_the_racy_window_follows_the_filesystems_timestamp_precision() -> None:
    whole_seconds, fine = 1795000000_000000000, 1795000000_123456789
    assert not quiet_before(whole_seconds, whole_seconds + 1_999_000_000)
    assert quiet_before(whole_seconds, whole_seconds + 2_001_000_000)
    assert not quiet_before(fine, fine + 49_000_000)
    assert quiet_before(fine, fine + 51_000_000)


def test_a_complete_catalogue_head_previews_the_newest_sessions(tmp_path: Path) -> None:
    store = opened_once(tmp_path)
    sessions = [document(f"session_179500000000{i}", updated_at=10 - i) for i in range(5)]
    child = document("session_1795000000009", parent_id=sessions[0].id, updated_at=20)
    for session in [*sessions, child]:
        store.sessions.save_session(session)
    entries = [Entry(s, stamp_of(os.stat(store.layout.document(s.id)))) for s in [*sessions, child]]
    later = time.time_ns() + 10**10
    store.save_catalogue(stamped(entries), store.directory_mtimes(), later, True)
    head = preview(tmp_path)
    assert head is not None
    assert [s.id for s in head.newest] == [child.id, *(s.id for s in sessions)]
    assert [s.id for s in head.newest_roots] == [s.id for s in sessions]
    assert (head.total, head.roots_total) == (6, 5)


def test_sessions_updated_at_the_same_moment_are_saved_in_the_list_order(
    tmp_path: Path,
) -> None:
    store = opened_once(tmp_path)
    updated = {3: 7, 0: 7, 4: 9, 1: 7, 2: 3}
    sessions = [
        document(
            f"session_179500000000{i}",
            updated_at=at,
            parent_id="session_1795000000001" if i == 4 else None,
        )
        for i, at in updated.items()
    ]
    for session in sessions:
        store.sessions.save_session(session)
    saving = stamped(Entry(s, stamp_of(os.stat(store.layout.document(s.id)))) for s in sessions)
    store.save_catalogue(saving, store.directory_mtimes(), time.time_ns() + 10**10, True)
    assert saving == []  # taken over: emptied before the body is made
    head = preview(tmp_path)
    assert head is not None
    assert [s.id[-1] for s in head.newest] == ["4", "3", "1", "0", "2"]
    assert [s.id[-1] for s in head.newest_roots] == ["3", "1", "0", "2"]
    store.close()
    store = SessionStore(tmp_path)
    assert [s.id[-1] for s in store.open().sessions] == ["2", "0", "1", "3", "4"]
    store.close()


def test_a_session_deleted_while_the_catalogue_is_saved_is_left_out(tmp_path: Path) -> None:
    """Its stamp is None once its delete is in the journal (which replays it): the
    save leaves it out, and its head is not complete."""
    store = opened_once(tmp_path)
    kept, deleted = document("session_1795000000001"), document("session_1795000000002")
    for session in (kept, deleted):
        store.sessions.save_session(session)
    documents = stamped(
        Entry(s, stamp_of(os.stat(store.layout.document(s.id)))) for s in (kept, deleted)
    )
    deleted.stamp = None
    store.save_catalogue(documents, store.directory_mtimes(), time.time_ns() + 10**10, True)
    assert preview(tmp_path) is None
    store.close()
    store = SessionStore(tmp_path)  # its file is there, in a directory the catalogue vouches for
    assert [s.id for s in store.open().sessions] == [kept.id]
    store.close()


def test_an_incomplete_or_untrusted_catalogue_gives_no_preview(tmp_path: Path) -> None:
    store = opened_once(tmp_path)
    session = document()
    store.sessions.save_session(session)
    entry = [Entry(session, stamp_of(os.stat(store.layout.document(session.id))))]
    later = time.time_ns() + 10**10
    store.save_catalogue(stamped(entry), store.directory_mtimes(), later, False)
    assert preview(tmp_path) is None
    store.save_catalogue(stamped(entry), store.directory_mtimes(), time.time_ns(), True)
    assert preview(tmp_path) is None
    store.save_catalogue(stamped(entry), {}, later, True)
    assert preview(tmp_path) is None


@pytest.mark.parametrize(
    "share",
    [
        None,
        ShareRecord(secret="s", created_at=5, expires_at=None),
        ShareRecord(secret="t", created_at=5, expires_at=9),
    ],
)
def test_a_documents_json_is_what_the_stored_model_writes_and_reads(
    share: ShareRecord | None,
) -> None:
    session = dataclasses.replace(document(parent_id="session_1", runner="echo"), share=share)
    written = session.to_json()
    assert written == SessionDocument.model_validate(written).model_dump(mode="json", by_alias=True)
    assert Session.from_document(SessionDocument.model_validate(written)) == session


def test_a_document_deleted_while_its_checkpoint_runs_does_not_fail_it(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.open()
    kept, gone = document(title="kept"), document("session_1795000000001")
    store.journal.append({"put": kept.to_json()}).result(5)
    covered = store.journal.rotate()
    real_write = store.files.write_many_atomic

    def write_then_lose_one(files: list[tuple[Path, bytes]]) -> None:
        real_write(files)
        store.layout.document(gone.id).unlink()  # as a concurrent delete would

    with mock.patch.object(store.files, "write_many_atomic", side_effect=write_then_lose_one):
        written = store.checkpoint([kept, gone], [], 1795000000001, covered)
    assert [entry.document.id for entry in written.documents] == [kept.id]
    assert not list(tmp_path.rglob("journal-*.log"))
    store.close()
