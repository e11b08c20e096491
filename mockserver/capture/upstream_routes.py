"""Where the recorder sends each path: a table of prefixes, the longest that fits wins.

A route is a cassette :class:`~mockserver.cassette.writer.Upstream`: calls to
``{recorder}{prefix}/x`` go to ``{url}/x``. Pointed at the real service's
address for the mock's root (fal's queue host), the recorder also routes the
other hosts the spec's ``x-mock-hosts`` map names (fal's run, REST and CDN
hosts), so one address (what ``flux-mock env`` exports) reaches them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mockserver.cassette.writer import Upstream
from mockserver.spec.hosts import HostMap, checked_prefix, checked_url, under


def parse_route(text: str) -> Upstream:
    """``PREFIX=URL`` from the command line."""
    prefix, sep, url = text.partition("=")
    if not sep:
        raise ValueError(f"--route {text!r}: expected PREFIX=URL, e.g. /run=https://fal.run")
    return Upstream(checked_prefix(prefix), checked_url(url))


def default_routes(upstream: str, hosts: HostMap, extra: Iterable[Upstream] = ()) -> list[Upstream]:
    """Everything to ``upstream`` (the spec's other hosts too when it is the real root), ``extra`` on top."""
    base = checked_url(upstream)
    table = {"": Upstream("", base)}
    if hosts.root(base):
        table.update((host.prefix, Upstream(host.prefix, host.url)) for host in hosts.hosts if host.prefix)
    table.update((route.prefix, route) for route in extra)
    return sorted(table.values(), key=lambda r: (-len(r.prefix), r.prefix))


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
