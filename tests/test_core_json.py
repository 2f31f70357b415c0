"""The hand-shaped JSON is exactly what the pydantic wire models produce."""

from __future__ import annotations

import orjson

from plue_sidecar.core.histories import as_message
from plue_sidecar.core.info_cache import SessionInfoCache
from plue_sidecar.models.fast_json import (
    message_json,
    message_page_json,
    message_record_json,
    session_info_json,
    share_info_json,
)
from plue_sidecar.models.parts import TextPart, ToolCallPart
from plue_sidecar.models.records import MessageRecord, Session, ShareRecord
from plue_sidecar.models.wire import MessagePage, SessionInfo, SessionPage, ShareInfo
from plue_sidecar.store.files.message_log import encode_record

BASE = "https://example.test/s/"
SHARE = ShareRecord(secret="s3cret", created_at=5, expires_at=None)
SESSIONS = (
    Session(1, "session_1795000000000", None, "plain", 1, 2, 0, False, None, None, None),
    Session(
        1, "session_1795000000001", "session_1795000000000", "ü", 3, 4, 7, True, 9, "echo", SHARE
    ),
)


def test_session_info_json_matches_the_model() -> None:
    for session in SESSIONS:
        wire = session_info_json(session, BASE)
        assert SessionInfo.model_validate(wire).model_dump(mode="json", by_alias=True) == wire


def test_share_info_json_matches_the_model() -> None:
    for expires_at in (None, 99):
        share = SHARE.model_copy(update={"expires_at": expires_at})
        wire = share_info_json(share, BASE)
        assert ShareInfo.model_validate(wire).model_dump(mode="json", by_alias=True) == wire
        assert wire["url"] == BASE + "s3cret"


def test_each_version_s_json_is_made_once_and_pages_match_the_model() -> None:
    cache = SessionInfoCache(BASE)
    first = cache.json(SESSIONS[1])
    assert cache.json(SESSIONS[1]) is first
    page = cache.page(list(SESSIONS), (4, 1795000000001))
    assert SessionPage.model_validate(page).model_dump(mode="json", by_alias=True) == page


def test_message_json_is_the_model_s_own_bytes() -> None:
    record = MessageRecord(
        id="msg_1",
        session_id="session_1795000000000",
        seq=3,
        role="assistant",
        parts=[TextPart(text="\u00fc"), ToolCallPart(call_id="t1", name="grep", input={"a": [1]})],
        created_at=5,
        completed_at=None,
        status="error",
        error="boom",
    )
    record_json = message_record_json(record)
    model_json = as_message(record).model_dump(mode="json", by_alias=True)
    assert orjson.dumps(message_json(record_json)) == orjson.dumps(model_json)
    assert encode_record(record) == orjson.dumps(record_json) + b"\n"
    for next_after_seq in (None, 3):
        page = MessagePage(messages=[as_message(record)], next_after_seq=next_after_seq)
        assert orjson.dumps(message_page_json([record], next_after_seq)) == orjson.dumps(
            page.model_dump(mode="json", by_alias=True)
        )
