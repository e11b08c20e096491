"""Links in bodies, rewritten between the upstreams' addresses and the recorder's.

The client must only ever talk to the recorder, so every link an answer gives
it (``status_url``, ``response_url``, an upload's ``base_url``, an image) is
turned to the recorder's origin plus the prefix of the route that reaches
that upstream, and every recorder link the client sends back in a body (an
``image_url`` it was given) is turned back, so the upstream sees its own
addresses and the cassette holds what the service really said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from mockserver.capture.upstream_routes import RouteTable
from mockserver.cassette.writer import Upstream
from mockserver.spec.file_links import FileLinks

# A file on a host the recorder does not route to is kept when its URL looks like one.
_IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def starts_url(text: str, base: str) -> bool:
    """Whether ``text`` is ``base`` or lies under it (``http://h:80`` is not under ``http://h:8``)."""
    return text.startswith(base) and (len(text) == len(base) or text[len(base)] in "/?#")


def strings(value: Any) -> Iterator[str]:
    """Every string value in a JSON document (keys are names, never links)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


def replaced(value: Any, change: Callable[[str], str]) -> Any:
    """The JSON document with ``change`` applied to each string value."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [replaced(item, change) for item in value]
    if isinstance(value, dict):
        return {key: replaced(item, change) for key, item in value.items()}
    return value


class Links:
    """The rewriting for one client, who reached the recorder at ``origin``."""

    def __init__(self, origin: str, table: RouteTable, files: FileLinks) -> None:
        self.origin = origin.rstrip("/")
        self._table = table
        self._files = files
        # Longest upstream URL first: "https://h/storage" before "https://h".
        self._by_url: Sequence[Upstream] = sorted(table.routes, key=lambda r: -len(r.url))
        # A bare origin whose paths the recorder keeps (fal's upload base_url, "https://v3.fal.media")
        # leads to the recorder's origin: the client appends the same paths to it.
        self._bare = {
            route.url[: len(route.url) - len(route.prefix)]
            for route in table.routes
            if route.prefix and route.url.endswith(route.prefix)
        } - {route.url for route in table.routes}

    def route_of_url(self, text: str) -> Upstream | None:
        for route in self._by_url:
            if starts_url(text, route.url):
                return route
        return None

    def to_client(self, text: str) -> str:
        """An upstream's link as the client should follow it, through the recorder; others unchanged."""
        route = self.route_of_url(text)
        if route is not None:
            return f"{self.origin}{route.prefix}{text[len(route.url):]}"
        if text.rstrip("/") in self._bare:
            return self.origin
        return text

    def to_upstream(self, text: str, kept: Mapping[str, str]) -> str:
        """A recorder link from the client, as the upstream knows it: a kept file's own URL, or the
        route's. ``kept`` maps a kept file's local path to where it came from."""
        if not starts_url(text, self.origin):
            return text
        rest = text[len(self.origin):] or "/"
        path, _, query = rest.partition("?")
        if path in kept and not query:
            return kept[path]
        route = self._table.find(path)
        return text if route is None else self._table.forwarded(route, path, query)

    def file_path(self, text: str) -> str | None:
        """Where the recorder serves the file ``text`` links to, when it is one to keep.

        On an upstream only the spec's file links count; elsewhere (a CDN) a path under the same
        prefix or an image's name does. Links with a query are left alone: a signed upload URL
        is a place to send bytes, not a file to fetch.
        """
        if not text.startswith(("http://", "https://")):
            return None
        try:
            parts = urlsplit(text)
        except ValueError:
            return None
        if not parts.hostname or parts.query or parts.fragment or len(parts.path) < 2:
            return None
        if self.route_of_url(text) is not None:
            return parts.path if self._files.file_id_in(parts.path) else None
        if parts.path.startswith(self._files.prefix) or parts.path.lower().endswith(_IMAGE_ENDINGS):
            return parts.path
        return None
