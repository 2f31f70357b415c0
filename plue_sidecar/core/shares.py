"""Share secrets: CSPRNG-made, found by digest, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class ShareIndex:
    """Secret -> session id. Lookup is by digest, so no secret is compared byte by byte."""

    def __init__(self) -> None:
        self._by_digest: dict[bytes, tuple[str, str]] = {}

    def add(self, secret: str, session_id: str) -> None:
        self._by_digest[_digest(secret)] = (secret, session_id)

    def remove(self, secret: str) -> None:
        self._by_digest.pop(_digest(secret), None)

    def find(self, secret: str) -> str | None:
        entry = self._by_digest.get(_digest(secret))
        if entry is None or not hmac.compare_digest(entry[0].encode(), secret.encode()):
            return None
        return entry[1]
