"""Routing that asks only the routes a path could fit.

Starlette's router tries every route in turn. The mock has a few dozen routes
(models, admin, uploads, the OpenAI API) and its busiest ones, the queue's
status and result templates, sit near the end because literal paths must be
tried first; a status poll spent more time being routed than answered. A
route without a ``path`` converter matches only paths with its number of
segments, so the routes are sorted once into one Starlette router per depth,
each keeping the original order. Matching, 405s and slash redirects are still
Starlette's, on a shorter list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.convertors import PathConvertor
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send


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

    def group_of(self, scope: Scope) -> int | None:
        """Which group may hold this request's route; None: any route may (a root path is set)."""
        if scope.get("root_path"):
            return None  # Starlette matches the path without its root; not worth mirroring
        return min(depth(scope["path"]), self._deepest)

    def candidates(self, scope: Scope) -> list[BaseRoute]:
        """Routes that may match this request, in the order they must be tried."""
        group = self.group_of(scope)
        return self.routes if group is None else self.groups[group]


class IndexedRouter(Router):
    """A Starlette router that hands each request to the router for its path's depth."""

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(routes=list(routes), **options)
        self.index = RouteIndex(self.routes)
        self._routers = [
            Router(routes=group, redirect_slashes=self.redirect_slashes, default=self.default)
            for group in self.index.groups
        ]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = self.index.group_of(scope) if scope["type"] == "http" else None
        if group is None:
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        await self._routers[group].app(scope, receive, send)
