"""The index's compact forms: packed recency keys, one child without a set, and ids
whose digits are not their number's spelling."""

from __future__ import annotations

import pytest

from plue_sidecar.core.index import SessionIndex
from plue_sidecar.core.ordering import RecencyIndex, pack, unpack
from plue_sidecar.models.records import Session
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION


def session(session_id: str, updated: int, parent: str | None = None) -> Session:
    return Session(
        SESSION_SCHEMA_VERSION, session_id, parent, "t", 1, updated, 0, False, None, None, None
    )


def test_packed_keys_keep_the_order_of_pairs() -> None:
    keys = [(-5, 3), (0, 0), (0, 10**32 - 1), (7, 2), (7, 10**31)]
    assert sorted(map(pack, keys)) == list(map(pack, sorted(keys)))
    assert [unpack(pack(k)) for k in keys] == keys
    order = RecencyIndex(keys)
    # A cursor's number beyond any id's sorts after every key of its updatedAt.
    assert order.newest_before((0, 10**40), 10)[0] == [(0, 10**32 - 1), (0, 0), (-5, 3)]
    assert order.newest_before(None, 2, accept=lambda k: k[0] != 7) == (
        [(0, 10**32 - 1), (0, 0)],
        True,
    )


def test_ids_with_leading_zeros_are_paged_and_removed() -> None:
    odd = "session_0001795000000001"
    index = SessionIndex([session(odd, 5), session("session_1795000000002", 3)])
    page, _ = index.page(None, False, 10, None)
    assert [s.id for s in page] == [odd, "session_1795000000002"]
    index.add(session("session_01795000000003", 9))
    assert index.page(None, False, 10, None)[0][0].id == "session_01795000000003"
    index.remove(odd)
    assert [s.id for s in index.page(None, False, 10, None)[0]] == [
        "session_01795000000003",
        "session_1795000000002",
    ]


def test_children_one_then_many_then_one() -> None:
    root = "session_1795000000001"
    index = SessionIndex(
        [
            session(root, 1),
            session("session_1795000000002", 2, root),
            session("session_1795000000003", 3, root),
        ]
    )
    assert [s.id for s in index.page(root, False, 10, None)[0]] == [
        "session_1795000000003",
        "session_1795000000002",
    ]
    index.remove("session_1795000000003")
    assert index.subtree(root) == ["session_1795000000002", root]
    index.add(session("session_1795000000004", 4, root))
    index.add(session("session_1795000000005", 5, root))
    assert len(index.page(root, False, 10, None)[0]) == 3
    index.remove("session_1795000000002")
    index.remove("session_1795000000004")
    index.remove("session_1795000000005")
    assert index.page(root, False, 10, None)[0] == []
    assert [s.id for s in index.page(None, True, 10, None)[0]] == [root]


def test_id_numbers_from_the_load_give_the_same_index_and_are_emptied() -> None:
    odd = "session_0001795000000001"
    made = [
        session(odd, 5),
        session("session_1795000000002", 3, odd),
        session("session_1795000000003", 3, "session_gone"),
    ]
    numbers = [1795000000001, 1795000000002, 1795000000003]
    given, computed = SessionIndex(list(made), numbers), SessionIndex(list(made))
    assert numbers == []
    for roots_only in (False, True):
        assert given.page(None, roots_only, 10, None) == computed.page(None, roots_only, 10, None)
    assert given.orphans == computed.orphans == ["session_1795000000003"]
    assert given.subtree(odd) == ["session_1795000000002", odd]


def test_id_numbers_that_do_not_match_the_sessions_are_refused() -> None:
    with pytest.raises(ValueError):
        SessionIndex([session("session_1795000000001", 1)], [1, 2])


def test_the_same_id_twice_ignores_the_given_numbers() -> None:
    first = session("session_1795000000001", 1)
    last = session("session_1795000000001", 2)
    numbers = [1795000000001, 1795000000001]
    index = SessionIndex([first, last], numbers)
    assert numbers == []
    assert index.get(first.id) is last
    assert index.page(None, False, 10, None) == ([last], None)
