"""The address a client used to reach the mock, so returned links work from there.

Behind a proxy, ``X-Forwarded-Proto``/``-Host``/``-Prefix`` say what the client
saw; values that could not be a scheme or a host are ignored rather than
echoed into links.
"""

from __future__ import annotations

import re

from starlette.requests import Request

_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def base_url(request: Request) -> str:
    headers = request.headers
    scheme = _first(headers.get("x-forwarded-proto")).lower()
    if scheme not in ("http", "https"):
        scheme = request.url.scheme
    host = _first(headers.get("x-forwarded-host"))
    if not _HOST.match(host):
        host = headers.get("host", "")
        if not _HOST.match(host):
            server = request.scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
    prefix = _first(headers.get("x-forwarded-prefix"))
    if not _PREFIX.match(prefix):
        prefix = ""
    root = str(request.scope.get("root_path", ""))
    return f"{scheme}://{host}{prefix.rstrip('/')}{root.rstrip('/')}"
