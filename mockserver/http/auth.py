"""Credentials: fal's ``Key <key>`` and the gateway's ``Bearer <key>``."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from mockserver.http.errors import ApiError

SCHEMES = ("key", "bearer")


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() not in SCHEMES or not credential.strip():
        return None
    return credential.strip()


def authorize(request: Request, api_key: str | None) -> None:
    """Raise 401 unless the request carries the configured key (any key when none is set)."""
    if api_key is None:
        return
    key = presented_key(request)
    if key is None:
        raise ApiError(
            401,
            "Missing credentials: send 'Authorization: Key <key>' or 'Authorization: Bearer <key>'",
            "unauthorized",
        )
    if not hmac.compare_digest(key.encode(), api_key.encode()):
        raise ApiError(401, "Invalid credentials: the key is not valid for this server", "unauthorized")
