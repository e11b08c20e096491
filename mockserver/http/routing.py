"""Routing that asks only the routes a path could fit.

Starlette's router tries every route in turn. The mock has a few dozen routes
(models, admin, uploads, the OpenAI API) and its busiest ones, the queue's
status and result templates, sit near the end because literal paths must be
tried first; a status poll spent more time being routed than answered. A
route without a ``path`` converter matches only paths with its number of
segments, so the routes are sorted once into groups by depth, each keeping
the original order.

A request that a route takes outright (path and method) is handed to it
straight from its group: literal paths by dictionary, templates by their
regular expression, the first in route order winning as in Starlette. All
else (405s, slash redirects, 404s, a root path) goes to one Starlette router
per depth, so those answers stay Starlette's own; on that path alone the
scheme is taken from a trusted ``X-Forwarded-Proto``, for the redirects.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.convertors import PathConvertor, StringConvertor
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def depth(path: str) -> int:
    """Segments in a path; a trailing slash does not count, so slash redirects stay in one group."""
    return path.rstrip("/").count("/")


def _fixed_depth(route: BaseRoute) -> int | None:
    """The only depth a route can match, or None when it may match several."""
    if not isinstance(route, Route):
        return None
    if any(isinstance(c, PathConvertor) for c in route.param_convertors.values()):
        return None
    return depth(route.path)


@dataclass
class _Lookup:
    """One group's routes, for finding the one that takes a request outright."""

    literal: dict[str, list[tuple[int, Route]]] = field(default_factory=dict)  # path -> routes, in order
    # (position, route, whether its parameters are plain strings that converting would return as they are)
    templated: list[tuple[int, Route, bool]] = field(default_factory=list)
    total: int = 0

    @classmethod
    def of(cls, group: Sequence[BaseRoute]) -> _Lookup | None:
        """None when the group holds a route that only Starlette's own matching can judge."""
        lookup = cls(total=len(group))
        for position, route in enumerate(group):
            if not isinstance(route, Route):
                return None
            if route.param_convertors:
                plain = all(type(c) is StringConvertor for c in route.param_convertors.values())
                lookup.templated.append((position, route, plain))
            else:
                lookup.literal.setdefault(route.path, []).append((position, route))
        return lookup

    def find(self, path: str, method: str) -> tuple[Route, dict[str, Any]] | None:
        first = self.total
        taker = None
        for position, route in self.literal.get(path, ()):
            if not route.methods or method in route.methods:
                first, taker = position, route
                break
        for position, route, plain in self.templated:
            if position >= first:
                break
            if route.methods and method not in route.methods:
                continue  # at best a PARTIAL match, which never wins over a FULL one
            match = route.path_regex.match(path)
            if match is not None:
                params = match.groupdict()
                if not plain:
                    convert = route.param_convertors
                    params = {name: convert[name].convert(value) for name, value in params.items()}
                return route, params
        return (taker, {}) if taker is not None else None


class RouteIndex:
    """The routes grouped by the depth of the paths they can match, order kept."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        fixed = [_fixed_depth(r) for r in self.routes]
        # Every depth past the deepest fixed route shares the last group.
        self._deepest = max((d for d in fixed if d is not None), default=0) + 1
        self.groups = [
            [r for r, d in zip(self.routes, fixed, strict=True) if d is None or d == n]
            for n in range(self._deepest + 1)
        ]
        self._lookups = [_Lookup.of(group) for group in self.groups]

    def group_of(self, scope: Scope) -> int | None:
        """Which group may hold this request's route; None: any route may (a root path is set)."""
        if scope.get("root_path"):
            return None  # Starlette matches the path without its root; not worth mirroring
        return min(depth(scope["path"]), self._deepest)

    def find(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        """The route that takes this request outright and its path parameters, as
        Starlette's router would pick them; None when it would answer otherwise
        (405, redirect, 404) or when only it can tell."""
        group = self.group_of(scope)
        lookup = None if group is None else self._lookups[group]
        return None if lookup is None else lookup.find(scope["path"], scope["method"])


class IndexedRouter(Router):
    """A Starlette router that hands each request to the router for its path's depth."""

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(routes=list(routes), **options)
        self.index = RouteIndex(self.routes)
        self._routers = [
            Router(routes=group, redirect_slashes=self.redirect_slashes, default=self.default)
            for group in self.index.groups
        ]
        # Starlette's own answers (a slash redirect) build absolute URLs from the scope's scheme.
        # Behind a proxy, X-Forwarded-Proto says what the client used, as uvicorn's proxy-header
        # middleware (not used: the mock's own links read the header themselves) would have set
        # for every request from a trusted address; only these answers read the scheme, so only
        # they pay for it. Trusted as uvicorn trusts by default: FORWARDED_ALLOW_IPS or loopback.
        proxied = ProxyHeadersMiddleware(
            cast(Any, self._starlettes), trusted_hosts=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        )
        self._elsewhere = cast(ASGIApp, proxied)  # uvicorn's ASGI types, Starlette's words for them

    def app(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:  # type: ignore[override]
        # Hands back the chosen app's awaitable: routing takes no part in the exchange itself.
        found = self.index.find(scope) if scope["type"] == "http" else None
        if found is not None:
            route, params = found
            scope.setdefault("router", self)
            scope["route"] = route
            scope["endpoint"] = route.endpoint
            scope["path_params"] = params
            return route.app(scope, receive, send)
        if scope["type"] != "http":
            return super().app(scope, receive, send)
        return self._elsewhere(scope, receive, send)

    async def _starlettes(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette's routers, for what no route takes outright: 405s, slash redirects, 404s."""
        group = self.index.group_of(scope)
        if group is None:
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        await self._routers[group].app(scope, receive, send)
