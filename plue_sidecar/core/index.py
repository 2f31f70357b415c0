"""Every session in memory, with the orders and links that reading needs.

Built in one pass from what the store loaded (on the opening thread, while the rest of
the process imports), then kept up to date one change at a time.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable

from plue_sidecar.core.ordering import RecencyIndex, SortKey
from plue_sidecar.core.shares import ShareIndex
from plue_sidecar.models.base import id_number
from plue_sidecar.models.records import Session


def sort_key(session: Session) -> SortKey:
    return (session.updated_at, id_number(session.id))


class SessionIndex:
    """Every session by id, with the orders and links reading needs: the recency order
    of all sessions and of roots (keyset pages, newest first), children by parent, and
    share secrets. Sessions whose parent is missing are listed as roots (`orphans`)."""

    def __init__(self, sessions: Iterable[Session] = ()) -> None:
        self._sessions: dict[str, Session] = {}
        self._ids_by_number: dict[int, str] = {}
        self._children: dict[str, set[str]] = {}
        self._shares = ShareIndex()
        self.orphans: list[str] = []
        """Sessions whose parent is gone: they are listed as roots."""
        by_id = self._sessions
        keys: list[SortKey] = []
        for session in sessions:
            number = id_number(session.id)
            by_id[session.id] = session
            self._ids_by_number[number] = session.id
            keys.append((session.updated_at, number))
        roots: list[SortKey] = []
        children = self._children
        for key, session in zip(keys, by_id.values(), strict=True):
            parent = session.parent_id
            if parent is None:
                roots.append(key)
            elif parent in by_id:
                children.setdefault(parent, set()).add(session.id)
            else:
                roots.append(key)
                self.orphans.append(session.id)
            if session.share is not None:
                self._shares.add(session.share.secret, session.id)
        self._recency = RecencyIndex(keys)
        self._roots = RecencyIndex(roots)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def items(self) -> ItemsView[str, Session]:
        return self._sessions.items()

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
            siblings = self._children.get(session.parent_id)
            if siblings is not None:
                siblings.discard(session_id)
                if not siblings:
                    del self._children[session.parent_id]
        self._children.pop(session_id, None)
        if session.share is not None:
            self._shares.remove(session.share.secret)
        del self._sessions[session_id]
        del self._ids_by_number[id_number(session_id)]
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
            order = RecencyIndex(
                sort_key(self._sessions[c]) for c in self._children.get(parent_id, ())
            )
        else:
            order = self._roots if roots_only else self._recency
        keys, more = order.newest_before(before, limit)
        sessions = [self._sessions[self._ids_by_number[key[1]]] for key in keys]
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
            pending.extend((child, False) for child in sorted(self._children.get(current, ()),
                                                              reverse=True))
        return ordered

    def shared_session(self, secret: str) -> str | None:
        return self._shares.find(secret)

    # --- links -----------------------------------------------------------------

    def _link(self, session: Session) -> SortKey:
        self._sessions[session.id] = session
        number = id_number(session.id)
        self._ids_by_number[number] = session.id
        parent = session.parent_id
        if parent is not None and parent in self._sessions:
            children = self._children.get(parent)
            if children is None:
                children = self._children[parent] = set()
            children.add(session.id)
        if session.share is not None:
            self._shares.add(session.share.secret, session.id)
        return (session.updated_at, number)

    def _is_root(self, session: Session) -> bool:
        parent = session.parent_id
        return parent is None or session.id not in self._children.get(parent, ())

