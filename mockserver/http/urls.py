"""The address a client used to reach the mock, so returned links work from there.

Behind a proxy, ``X-Forwarded-Proto``/``-Host``/``-Prefix`` say what the client
saw; values that could not be a scheme or a host are ignored rather than
echoed into links.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")


# Where each header's first value goes in the cache key.
_SLOTS = {b"host": 0, b"x-forwarded-proto": 1, b"x-forwarded-host": 2, b"x-forwarded-prefix": 3}


def base_url(request: Request) -> str:
    # Read the four headers straight from the ASGI scope: building Starlette's
    # Headers and URL objects for them cost more than the rest of a status poll.
    scope = request.scope
    found: list[bytes | None] = [None, None, None, None]
    for name, value in scope["headers"]:
        slot = _SLOTS.get(name)
        if slot is not None and found[slot] is None:
            found[slot] = value
    server = scope.get("server")
    if isinstance(server, list):  # ASGI allows a list; a key must be hashable
        server = tuple(server)
    key = (scope.get("scheme", "http"), server, scope.get("root_path", ""), *found)
    url = _CACHE.get(key)
    if url is None:
        server = server or ("127.0.0.1", 80)
        host, fwd_proto, fwd_host, fwd_prefix = (None if v is None else v.decode("latin-1") for v in found)
        url = _base_url(
            str(key[0]), host or "", fwd_proto, fwd_host, fwd_prefix, f"{server[0]}:{server[1]}", str(key[2])
        )
        # Long (hostile) values are not kept, and a cache that fills up starts again, so
        # clients cannot grow it without bound.
        if sum(len(v) for v in found if v is not None) <= _CACHEABLE:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.clear()
            _CACHE[key] = url
    return url


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


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
_CACHE_SIZE = 256
_CACHE: dict[tuple[Any, ...], str] = {}
