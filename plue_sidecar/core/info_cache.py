"""Sessions as the wire shows them, made once per version of each session.

Reads dominate an editor's traffic; sessions in memory are immutable, so the JSON of
each version is kept until the next version replaces it (see `models.fast_json`).
"""

from __future__ import annotations

from plue_sidecar.core.ordering import SortKey, encode_cursor
from plue_sidecar.models.fast_json import JsonObject, session_info_json, share_info_json
from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.models.wire import SessionInfo, ShareInfo


class SessionInfoCache:
    def __init__(self, share_base_url: str) -> None:
        self._share_base_url = share_base_url
        self._by_id: dict[str, tuple[Session, JsonObject]] = {}

    def json(self, session: Session) -> JsonObject:
        """`SessionInfo` as JSON."""
        cached = self._by_id.get(session.id)
        if cached is not None and cached[0] is session:
            return cached[1]
        wire = session_info_json(session, self._share_base_url)
        self._by_id[session.id] = (session, wire)
        return wire

    def model(self, session: Session) -> SessionInfo:
        return SessionInfo.model_validate(self.json(session))

    def page(self, sessions: list[Session], last: SortKey | None) -> JsonObject:
        """`SessionPage` as JSON; `last` is the key the next page starts after."""
        return {
            "sessions": [self.json(session) for session in sessions],
            "nextCursor": encode_cursor(last) if last is not None else None,
        }

    def share(self, share: ShareRecord) -> ShareInfo:
        return ShareInfo.model_validate(share_info_json(share, self._share_base_url))

    def forget(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)
