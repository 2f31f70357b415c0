"""The core's hand-shaped JSON is exactly what the pydantic wire models produce."""

from __future__ import annotations

from pathlib import Path

from plue_sidecar.core.sessions import SessionService
from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.models.wire import SessionInfo
from plue_sidecar.settings import Settings
from plue_sidecar.store.session_store import SessionStore


class Quiet:
    def session_changed(self, change: object) -> None:
        pass


def test_session_info_json_matches_the_model(tmp_path: Path) -> None:
    service = SessionService(SessionStore(tmp_path), Settings(tmp_path), Quiet())
    share = ShareRecord(secret="s3cret", created_at=5, expires_at=None)
    for session in (
        Session(1, "session_1795000000000", None, "plain", 1, 2, 0, False, None, None, None),
        Session(1, "session_1795000000001", "session_1795000000000", "ü", 3, 4, 7, True, 9,
                "echo", share),
    ):
        wire = service._info_json(session)
        assert SessionInfo.model_validate(wire).model_dump(mode="json", by_alias=True) == wire
        assert service._info_json(session) is wire
