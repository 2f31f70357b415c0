"""Every session in memory, with the orders and links that reading needs.

Built in one pass from what the store loaded (on the opening thread, while the rest of
the process imports), then kept up to date one change at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence, ValuesView
from itertools import compress, repeat
from operator import attrgetter, is_not, itemgetter, lshift, not_, or_

from plue_sidecar.core.ordering import NUMBER_BITS, RecencyIndex, SortKey
from plue_sidecar.core.shares import ShareIndex
from plue_sidecar.models.records import Session
from plue_sidecar.session_format import SESSION_ID_PREFIX, id_number


def sort_key(session: Session) -> SortKey:
    return (session.updated_at, id_number(session.id))


class SessionIndex:
    """Every session by id, with the orders and links reading needs: the recency order
    of all sessions and of roots (keyset pages, newest first), children by parent, and
    share secrets. Sessions whose parent is missing are listed as roots (`orphans`)."""

    def __init__(
        self, sessions: Iterable[Session] = (), id_numbers: MutableSequence[int] | None = None
    ) -> None:
        """`id_numbers`, when given, is each session's `id_number`, in the same order
        (the load computes them for the highest id): taken over, and emptied."""
        sessions_in = sessions if isinstance(sessions, list) else list(sessions)
        ids = list(map(attrgetter("id"), sessions_in))
        self._sessions: dict[str, Session] = dict(zip(ids, sessions_in, strict=True))
        if id_numbers is not None and len(id_numbers) != len(ids):
            raise ValueError("an id number for each session")
        numbers: Iterable[int] | None = id_numbers
        if len(self._sessions) != len(ids):  # the same id twice: the last one counts
            ids, sessions_in = list(self._sessions), list(self._sessions.values())
            numbers = None
        self._odd_ids: dict[int, str] | None = None
        """Ids that are not the prefix and their number's digits (leading zeros), by
        number: the id of any other number is spelled from it (a dict by number would
        cost as much as the one by id). Found when a page first misses an id."""
        self._children: dict[str, str | set[str]] = {}
        """Children by parent: one child as its id (most parents have one; a set each
        would be most of the index's memory), more as a set."""
        self._shares = ShareIndex()
        self.orphans: list[str] = []
        """Sessions whose parent is gone: they are listed as roots."""
        # Column by column, each pass in C (map, zip, comprehensions): a loop in Python
        # per session was most of the index's time. The id number is computed once
        # (by the load, when it gives them) and never kept as an int per session.
        by_id, children = self._sessions, self._children
        if numbers is None:
            numbers = map(int, map(itemgetter(slice(len(SESSION_ID_PREFIX), None)), ids))
        # Recency keys packed in C (see ordering.pack): updatedAt << 108 | number.
        keys = list(
            map(
                or_,
                map(lshift, map(attrgetter("updated_at"), sessions_in), repeat(NUMBER_BITS)),
                numbers,
            )
        )
        del numbers
        if id_numbers is not None:
            del id_numbers[:]  # the caller does not keep them alive either
        parents = list(map(attrgetter("parent_id"), sessions_in))
        linked = list(map(by_id.__contains__, parents))
        unlinked = list(map(not_, linked))
        roots = list(compress(keys, unlinked))
        self._recency = RecencyIndex.of_packed(keys)  # sorts them: after the roots
        self.orphans = [
            session_id
            for session_id, parent in compress(zip(ids, parents, strict=True), unlinked)
            if parent is not None
        ]
        del unlinked  # each list goes once used: together they were the load's peak
        self._roots = RecencyIndex.of_packed(roots)
        children.update(zip(compress(parents, linked), compress(ids, linked), strict=True))
        if len(children) < sum(linked):  # some parents have more than one child
            for parent, child in zip(compress(parents, linked), compress(ids, linked), strict=True):
                siblings = children[parent]
                if isinstance(siblings, str):
                    if siblings != child:
                        children[parent] = {siblings, child}
                else:
                    siblings.add(child)
        del parents, linked
        if any(map(is_not, map(attrgetter("share"), sessions_in), repeat(None))):
            for session in sessions_in:
                if session.share is not None:
                    self._shares.add(session.share.secret, session.id)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def values(self) -> ValuesView[Session]:
        return self._sessions.values()

    # --- changes -------------------------------------------------------------

    def add(self, session: Session) -> None:
        key = self._link(session)
        self._recency.add(key)
        if self._is_root(session):
            self._roots.add(key)

    def remove(self, session_id: str) -> Session:
        session = self._sessions[session_id]
        key = sort_key(session)
        self._recency.discard(key)
        self._roots.discard(key)
        if session.parent_id is not None:
            self._unlink_child(session.parent_id, session_id)
        self._children.pop(session_id, None)
        if session.share is not None:
            self._shares.remove(session.share.secret)
        del self._sessions[session_id]
        number = id_number(session_id)
        if self._odd_ids is not None and self._odd_ids.get(number) == session_id:
            del self._odd_ids[number]
        return session

    def replace(self, old: Session, new: Session) -> None:
        self._sessions[new.id] = new
        old_key, new_key = sort_key(old), sort_key(new)
        if old_key != new_key:
            self._recency.discard(old_key)
            self._recency.add(new_key)
            if self._is_root(new):
                self._roots.discard(old_key)
                self._roots.add(new_key)
        if old.share is not None and (new.share is None or new.share.secret != old.share.secret):
            self._shares.remove(old.share.secret)
        if new.share is not None:
            self._shares.add(new.share.secret, new.id)

    # --- reading -------------------------------------------------------------

    def page(
        self, parent_id: str | None, roots_only: bool, limit: int, before: SortKey | None
    ) -> tuple[list[Session], SortKey | None]:
        """Up to `limit` sessions older than `before`, and the key to continue from."""
        if parent_id is not None:
            order = RecencyIndex(sort_key(self._sessions[c]) for c in self._children_of(parent_id))
        else:
            order = self._roots if roots_only else self._recency
        keys, more = order.newest_before(before, limit)
        sessions = [self._session_numbered(key[1]) for key in keys]
        return sessions, keys[-1] if more else None

    def subtree(self, session_id: str) -> list[str]:
        """The session and its descendants, deepest first."""
        ordered: list[str] = []
        pending = [(session_id, False)]
        while pending:
            current, expanded = pending.pop()
            if expanded:
                ordered.append(current)
                continue
            pending.append((current, True))
            pending.extend(
                (child, False) for child in sorted(self._children_of(current), reverse=True)
            )
        return ordered

    def shared_session(self, secret: str) -> str | None:
        return self._shares.find(secret)

    # --- links -----------------------------------------------------------------

    def _link(self, session: Session) -> SortKey:
        self._sessions[session.id] = session
        number = id_number(session.id)
        if self._odd_ids is not None:
            if session.id != f"{SESSION_ID_PREFIX}{number}":
                self._odd_ids[number] = session.id
            else:
                self._odd_ids.pop(number, None)
        parent = session.parent_id
        if parent is not None and parent in self._sessions:
            siblings = self._children.get(parent)
            if siblings is None:
                self._children[parent] = session.id
            elif isinstance(siblings, str):
                if siblings != session.id:
                    self._children[parent] = {siblings, session.id}
            else:
                siblings.add(session.id)
        if session.share is not None:
            self._shares.add(session.share.secret, session.id)
        return (session.updated_at, number)

    def _is_root(self, session: Session) -> bool:
        parent = session.parent_id
        return parent is None or session.id not in self._children_of(parent)

    def _session_numbered(self, number: int) -> Session:
        odd_ids = self._odd_ids
        if odd_ids is not None and number in odd_ids:
            return self._sessions[odd_ids[number]]
        session = self._sessions.get(f"{SESSION_ID_PREFIX}{number}")
        if session is not None:
            return session
        if odd_ids is None:
            self._odd_ids = odd_ids = {
                id_number(session_id): session_id
                for session_id in self._sessions
                if session_id != f"{SESSION_ID_PREFIX}{id_number(session_id)}"
            }
        return self._sessions[odd_ids[number]]

    def _children_of(self, parent_id: str) -> tuple[str, ...] | set[str]:
        siblings = self._children.get(parent_id)
        if siblings is None:
            return ()
        return (siblings,) if isinstance(siblings, str) else siblings

    def _unlink_child(self, parent_id: str, child_id: str) -> None:
        siblings = self._children.get(parent_id)
        if siblings is None:
            return
        if isinstance(siblings, str):
            if siblings == child_id:
                del self._children[parent_id]
            return
        siblings.discard(child_id)
        if len(siblings) == 1:
            self._children[parent_id] = next(iter(siblings))
        elif not siblings:
            del self._children[parent_id]
