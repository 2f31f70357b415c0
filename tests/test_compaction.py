"""Journal compaction: the replay of the compacted journal is the replay of the original,
after every generation rewritten (a crash may stop it anywhere), and the journal's
generations stay small enough to be rewritten on a nearly full disk."""

from __future__ import annotations

import random
from pathlib import Path
from unittest import mock

import orjson
import pytest

from plue_sidecar.models.records import Session
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import generations_in, journal_path
from plue_sidecar.store.journal.compaction import compact_generations
from plue_sidecar.store.journal.journal import Journal, Record, encode, read_journal
from plue_sidecar.store.journal.replay import JournalReplay, replay_journal

IDS = [f"session_17950000000{n:02d}" for n in range(12)]


def document(session_id: str, title: str) -> Record:
    return Session(1, session_id, None, title, 1, 2, 0, False, None, None, None).to_json()


def replay_of(generations: list[tuple[int, bytes]]) -> tuple[dict[str, Session], JournalReplay]:
    records = [record for _, data in generations for record in _records(data)]
    sessions = {IDS[0]: Session(1, IDS[0], None, "on disk", 1, 2, 0, False, None, None, None)}
    replay = replay_journal(records, sessions)
    return sessions, replay


def generations_on_disk(directory: Path) -> list[tuple[int, bytes]]:
    return [
        (number, path.read_bytes()) for number, path in generations_in(Root(directory), directory)
    ]


def _records(data: bytes) -> list[Record]:
    return [orjson.loads(line.partition(b" ")[2]) for line in data.split(b"\n")[:-1]]


def random_journal(seed: int) -> list[tuple[int, bytes]]:
    draw = random.Random(seed)
    generations = []
    for number in range(1, draw.randint(1, 6) + 1):
        records = []
        for n in range(draw.randint(0, 12)):
            session_id = draw.choice(IDS)
            kind = draw.random()
            if kind < 0.6:
                records.append({"put": document(session_id, f"{number}.{n}")})
            elif kind < 0.9:
                records.append(
                    {
                        "delete": draw.sample(IDS, draw.randint(1, 2)),
                        "highWater": draw.randint(0, 99),
                    }
                )
            else:  # a put the replay skips: it must not replace an older one
                records.append({"put": {"schemaVersion": 1, "id": session_id}})
        generations.append((number, b"".join(encode(record) for record in records)))
    return generations


@pytest.mark.parametrize("seed", range(300))
def test_the_compacted_journal_replays_the_same_after_each_generation_rewritten(
    seed: int,
) -> None:
    generations = random_journal(seed)
    expected = replay_of(generations)
    compacted = compact_generations(generations)
    state = dict(generations)
    for number in sorted(compacted):  # oldest first, as the journal rewrites them
        assert len(compacted[number]) < len(state[number])
        state[number] = compacted[number]
        assert replay_of(sorted(state.items())) == expected
    assert compact_generations(sorted(state.items())) == {}


def test_puts_of_deleted_and_replaced_sessions_go_and_deletes_stay() -> None:
    first, second = IDS[1], IDS[2]
    put_first, put_second = {"put": document(first, "a")}, {"put": document(second, "b")}
    newer_second = {"put": document(second, "c")}
    delete_first = {"delete": [first], "highWater": 5}
    generations = [
        (1, encode(put_first) + encode(put_second)),
        (2, encode(newer_second) + encode(delete_first)),
    ]
    assert compact_generations(generations) == {1: b""}


def test_a_generation_with_a_damaged_or_torn_record_is_left_as_it_is() -> None:
    put = encode({"put": document(IDS[1], "a")})
    delete = encode({"delete": [IDS[1]], "highWater": 1})
    damaged = put.replace(b'"a"', b'"b"')
    assert compact_generations([(1, damaged + put), (2, delete)]) == {}
    assert compact_generations([(1, put + put[:10]), (2, delete)]) == {}


def test_the_journal_rewrites_older_generations_and_keeps_appending(tmp_path: Path) -> None:
    journal = Journal(DurableFiles(tmp_path), tmp_path, 1)
    journal.end_generations_at(1)
    for title in ("a", "b", "c"):
        journal.append({"put": document(IDS[1], title)}).result(5)
    assert [number for number, _ in generations_on_disk(tmp_path)] == [1, 2, 3]
    before = replay_of(generations_on_disk(tmp_path))
    assert journal.rewrite_generations(compact_generations) > 0
    journal.append({"delete": [IDS[1]], "highWater": 1}).result(5)
    journal.close()
    contents = read_journal(Root(tmp_path), tmp_path)
    assert contents.records == [
        {"put": document(IDS[1], "c")},
        {"delete": [IDS[1]], "highWater": 1},
    ]
    assert before[0][IDS[1]].title == "c"


def test_a_generation_ends_once_it_holds_its_bytes(tmp_path: Path) -> None:
    journal = Journal(DurableFiles(tmp_path), tmp_path, 1)
    record = {"put": document(IDS[1], "a")}
    journal.end_generations_at(2 * len(encode(record)))
    generations = [journal.append(record).result(5) for _ in range(5)]
    journal.close()
    assert generations == [1, 1, 2, 2, 3]


def test_a_compaction_that_fails_half_way_leaves_a_journal_that_replays_the_same(
    tmp_path: Path,
) -> None:
    journal = Journal(DurableFiles(tmp_path), tmp_path, 1)
    journal.end_generations_at(1)
    for session_id in IDS[1:5]:
        journal.append({"put": document(session_id, "a")}).result(5)
    for session_id in IDS[1:5]:
        journal.append({"delete": [session_id], "highWater": 1}).result(5)
    on_disk = generations_on_disk(tmp_path)
    expected = replay_of(on_disk)
    real_write = DurableFiles.write_atomic
    calls = 0

    def fail_the_second(files: DurableFiles, path: Path, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        real_write(files, path, data)

    with mock.patch.object(DurableFiles, "write_atomic", fail_the_second), pytest.raises(OSError):
        journal.rewrite_generations(compact_generations)
    after = generations_on_disk(tmp_path)
    assert after != on_disk
    assert replay_of(after) == expected
    assert journal.rewrite_generations(compact_generations) > 0
    journal.close()
    assert replay_of(generations_on_disk(tmp_path)) == expected


def test_compaction_drops_the_zeros_a_crash_left_in_an_older_generation(
    tmp_path: Path,
) -> None:
    put = encode({"put": document(IDS[1], "a")})
    journal_path(tmp_path, 1).write_bytes(put + put + bytes(5000))
    journal = Journal(DurableFiles(tmp_path), tmp_path, 2)
    journal.append({"put": document(IDS[2], "b")}).result(5)
    assert journal.rewrite_generations(compact_generations) == len(put) + 5000
    journal.close()
    assert journal_path(tmp_path, 1).read_bytes() == put
    assert read_journal(Root(tmp_path), tmp_path).problems == []
