"""The address a client used to reach the mock, so returned links work from there.

Behind a proxy, ``X-Forwarded-Proto``/``-Host``/``-Prefix`` say what the client
saw; values that could not be a scheme or a host are ignored rather than
echoed into links.
"""

from __future__ import annotations

import functools
import re

from starlette.requests import Request

_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")


_WANTED = (b"host", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-prefix")


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def base_url(request: Request) -> str:
    # Read the four headers straight from the ASGI scope: building Starlette's
    # Headers and URL objects for them cost more than the rest of a status poll.
    scope = request.scope
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    server = scope.get("server") or ("127.0.0.1", 80)
    # Cached by the header values; long (hostile) values bypass the cache so
    # it cannot be filled with them.
    compute = _cached if sum(map(len, found.values())) <= _CACHEABLE else _base_url
    return compute(
        str(scope.get("scheme", "http")),
        found.get(b"host", ""),
        found.get(b"x-forwarded-proto"),
        found.get(b"x-forwarded-host"),
        found.get(b"x-forwarded-prefix"),
        f"{server[0]}:{server[1]}",
        str(scope.get("root_path", "")),
    )


def _base_url(
    scheme: str, host: str, fwd_proto: str | None, fwd_host: str | None, fwd_prefix: str | None, server: str, root: str
) -> str:
    proto = _first(fwd_proto).lower()
    if proto in ("http", "https"):
        scheme = proto
    chosen = _first(fwd_host)
    if not _HOST.match(chosen):
        chosen = host if _HOST.match(host) else server
    prefix = _first(fwd_prefix)
    if not _PREFIX.match(prefix):
        prefix = ""
    return f"{scheme}://{chosen}{prefix.rstrip('/')}{root.rstrip('/')}"


_CACHEABLE = 512
_cached = functools.lru_cache(maxsize=256)(_base_url)
