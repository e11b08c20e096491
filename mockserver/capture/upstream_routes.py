"""Where the recorder sends each path: a table of prefixes, the longest that fits wins.

A route is a cassette :class:`~mockserver.cassette.writer.Upstream`: calls to
``{recorder}{prefix}/x`` go to ``{url}/x``. Pointed at fal's real queue host,
the recorder also routes the three other hosts fal-client calls, so one
address (what ``flux-mock env`` exports) reaches all four.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from mockserver.cassette.writer import Upstream

FAL_QUEUE = "https://queue.fal.run"
# How fal-client reaches fal's other hosts from one base address (runtime/run_file.py's fal_urls):
# the run host under /run with the prefix dropped, upload tokens and realtime tokens on the REST
# host and uploads on the CDN with their paths kept. fal-client 1.x calls rest.fal.ai (older
# releases and @fal-ai/client used rest.alpha.fal.ai; --route /storage=... picks another).
FAL_REST = "https://rest.fal.ai"
FAL_CDN = "https://v3.fal.media"
FAL_ROUTES = (
    Upstream("/run", "https://fal.run"),
    Upstream("/storage", f"{FAL_REST}/storage"),
    Upstream("/tokens", f"{FAL_REST}/tokens"),
    Upstream("/files/upload", f"{FAL_CDN}/files/upload"),
)


def upstream_url(text: str) -> str:
    """An upstream's base URL, checked: http(s), a host, no query; no trailing slash."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r}: an upstream URL takes no query or fragment")
    return text.strip().rstrip("/")


def route_prefix(text: str) -> str:
    """A route's path prefix: ``/run`` (a leading slash, none trailing); ``/`` or empty is the root."""
    prefix = text.strip().rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"route prefix {text!r} must start with /")
    if any(c in prefix for c in "?#"):
        raise ValueError(f"route prefix {text!r} must be a plain path")
    return prefix


def parse_route(text: str) -> Upstream:
    """``PREFIX=URL`` from the command line."""
    prefix, sep, url = text.partition("=")
    if not sep:
        raise ValueError(f"--route {text!r}: expected PREFIX=URL, e.g. /run=https://fal.run")
    return Upstream(route_prefix(prefix), upstream_url(url))


def default_routes(upstream: str, extra: Iterable[Upstream] = ()) -> list[Upstream]:
    """Everything to ``upstream`` (fal's other hosts too when it is fal's queue), then ``extra`` on top."""
    base = upstream_url(upstream)
    table = {"": Upstream("", base)}
    if base == FAL_QUEUE:
        table.update((route.prefix, route) for route in FAL_ROUTES)
    table.update((route.prefix, route) for route in extra)
    return sorted(table.values(), key=lambda r: (-len(r.prefix), r.prefix))


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` lies under ``prefix`` at a segment boundary (``/runs`` is not under ``/run``)."""
    return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] in "/?#" or not prefix)


class RouteTable:
    def __init__(self, routes: Sequence[Upstream]) -> None:
        # Longest prefix first, so the first that fits is the most specific.
        self.routes = tuple(sorted(routes, key=lambda r: -len(r.prefix)))

    def find(self, path: str) -> Upstream | None:
        """The route for a path as sent, escapes kept: the path :meth:`forwarded` cuts its prefix from."""
        for route in self.routes:
            if under(path, route.prefix):
                return route
        return None

    def forwarded(self, route: Upstream, raw_path: str, query: str) -> str:
        """The upstream URL for a path the client asked the recorder for."""
        rest = raw_path[len(route.prefix):]
        if rest and not rest.startswith("/"):
            rest = "/" + rest
        return f"{route.url}{rest}" + (f"?{query}" if query else "")
