"""Sharing: secrets, links, expiry, revocation."""

from __future__ import annotations

import base64
import time

from plue_sidecar import errors
from tests.conftest import StartSidecar
from tests.harness.client import SidecarProcess


async def test_share_gives_a_random_url_safe_secret_and_a_url(sidecar: SidecarProcess) -> None:
    info = await sidecar.call("session/create", {})
    share = await sidecar.call("session/share", {"sessionId": info["id"]})
    secret = share["secret"]
    assert "=" not in secret
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert share["url"] == "https://plue.app/share/" + secret
    assert share["expiresAt"] is None
    again = await sidecar.call("session/share", {"sessionId": info["id"]})
    assert again == share
    other = await sidecar.call("session/create", {})
    assert (await sidecar.call("session/share", {"sessionId": other["id"]}))["secret"] != secret
    got = await sidecar.call("session/get", {"sessionId": info["id"]})
    assert got["share"] == share
    change = await sidecar.wait_for_notification(
        lambda m, p: m == "session/didChange" and p["change"] == "shared"
    )
    assert change["sessionId"] == info["id"]


async def test_share_base_url_is_configurable(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar("--share-base-url", "https://example.test/s/")
    info = await sidecar.call("session/create", {})
    share = await sidecar.call("session/share", {"sessionId": info["id"]})
    assert share["url"] == "https://example.test/s/" + share["secret"]


async def test_resolve_answers_the_session_without_its_secret(sidecar: SidecarProcess) -> None:
    info = await sidecar.call("session/create", {"title": "shared"})
    share = await sidecar.call("session/share", {"sessionId": info["id"]})
    resolved = await sidecar.call("share/resolve", {"secret": share["secret"]})
    assert resolved["session"]["id"] == info["id"]
    assert resolved["session"]["title"] == "shared"
    assert resolved["session"]["share"] is None
    assert share["secret"] not in str(resolved)


async def test_unknown_revoked_and_expired_secrets_all_answer_share_not_found(
    sidecar: SidecarProcess,
) -> None:
    info = await sidecar.call("session/create", {})
    share = await sidecar.call("session/share", {"sessionId": info["id"]})
    wrong = share["secret"][:-1] + ("A" if share["secret"][-1] != "A" else "B")
    unshared = await sidecar.call("session/unshare", {"sessionId": info["id"]})
    assert unshared["share"] is None
    expiring = await sidecar.call("session/create", {})
    short = await sidecar.call(
        "session/share", {"sessionId": expiring["id"], "expiresInSeconds": 1}
    )
    assert short["expiresAt"] == short["createdAt"] + 1000
    while time.time() * 1000 < short["expiresAt"]:
        await sidecar.call("session/list", {"limit": 1})
    failures = [
        await sidecar.failure("share/resolve", {"secret": secret})
        for secret in (share["secret"], wrong, "nope", short["secret"])
    ]
    assert {(f.code, f.kind, f.message) for f in failures} == {
        (errors.SHARE_NOT_FOUND, "share_not_found", "share not found")
    }
    renewed = await sidecar.call("session/share", {"sessionId": expiring["id"]})
    assert renewed["secret"] != short["secret"]


async def test_unshare_of_an_unshared_session_changes_nothing(sidecar: SidecarProcess) -> None:
    info = await sidecar.call("session/create", {})
    assert await sidecar.call("session/unshare", {"sessionId": info["id"]}) == info
    missing = await sidecar.failure("session/unshare", {"sessionId": "session_1234567890123"})
    assert missing.code == errors.SESSION_NOT_FOUND


async def test_share_params_are_checked(sidecar: SidecarProcess) -> None:
    info = await sidecar.call("session/create", {})
    for bad in [0, -5, 10**9, "soon"]:
        failure = await sidecar.failure(
            "session/share", {"sessionId": info["id"], "expiresInSeconds": bad}
        )
        assert failure.code == errors.INVALID_PARAMS
        assert failure.data["field"] == "expiresInSeconds"
    missing = await sidecar.failure("session/share", {"sessionId": "session_1234567890123"})
    assert missing.code == errors.SESSION_NOT_FOUND


async def test_shares_survive_a_restart(start_sidecar: StartSidecar) -> None:
    first = await start_sidecar()
    info = await first.call("session/create", {})
    share = await first.call("session/share", {"sessionId": info["id"]})
    await first.kill()
    second = await start_sidecar()
    resolved = await second.call("share/resolve", {"secret": share["secret"]})
    assert resolved["session"]["id"] == info["id"]
