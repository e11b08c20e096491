"""The indexed router asks only the routes a path could fit, and routes exactly as Starlette would."""

from __future__ import annotations

import itertools

import httpx
import pytest
from starlette.routing import BaseRoute, Match, Mount, Route

from mockserver.http.app import create_app
from mockserver.http.routing import IndexedRouter, RouteIndex, depth
from mockserver.testing import MockServer

APP = create_app()
ROUTES: list[BaseRoute] = list(APP.routes)
SEGMENTS = ["fal-ai", "flux-pro", "requests", "abc", "status", "stream", "cancel", "kontext", "max", "multi",
            "text-to-image", "_mock", "scenarios", "journal", "v1", "models", "run", "files", "upload", "api", "fal",
            "proxy", "x%2Fy", ""]


def _scope(path: str, method: str = "GET", root_path: str = "") -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}


def _hits(routes: list[BaseRoute], scope: dict[str, object]) -> list[tuple[int, Match]]:
    """Every route that answers FULL or PARTIAL, in order: what Starlette's router acts on."""
    found: list[tuple[int, Match]] = []
    for route in routes:
        kind, _ = route.matches(scope)
        if kind is not Match.NONE:
            found.append((ROUTES.index(route), kind))
    return found


def _paths() -> list[str]:
    paths = {"/", "//", "/x/"}
    for n in range(1, 6):
        for combo in itertools.islice(itertools.product(SEGMENTS, repeat=n), 4000):
            paths.add("/" + "/".join(combo))
    for route in ROUTES:  # each route's own path, filled in, with and without a trailing slash
        assert isinstance(route, Route)
        filled = route.path.replace("{", "").replace("}", "").replace(":path", "")
        paths |= {filled, filled + "/", filled + "/deeper/still"}
    return sorted(paths)


def _candidates(index: RouteIndex, scope: dict[str, object]) -> list[BaseRoute]:
    """The routes the router for this request's group tries, in order."""
    group = index.group_of(scope)
    return index.routes if group is None else index.groups[group]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_candidates_keep_every_route_that_could_answer(method: str) -> None:
    index = RouteIndex(ROUTES)
    paths = _paths()
    assert len(paths) > 5000
    for path in paths:
        for variant in (path, path.rstrip("/") + "/" if path != "/" else path):  # what slash redirects try
            scope = _scope(variant, method)
            assert _hits(_candidates(index, scope), scope) == _hits(ROUTES, scope), variant


def _taker(scope: dict[str, object]) -> tuple[int, dict[str, object]] | None:
    """The first route that takes the request outright, as Starlette's router picks it."""
    for position, route in enumerate(ROUTES):
        kind, child = route.matches(scope)
        if kind is Match.FULL:
            return position, child["path_params"]
    return None


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
def test_find_picks_the_route_and_params_starlette_would(method: str) -> None:
    index = RouteIndex(ROUTES)
    taken = 0
    for path in _paths():
        scope = _scope(path, method)
        found = index.find(scope)
        expected = _taker(scope)
        assert (None if found is None else (ROUTES.index(found[0]), found[1])) == expected, path
        taken += found is not None
    assert taken > 0  # some requests were routed, not just all sent on to Starlette


def test_find_leaves_root_paths_and_unknown_route_kinds_to_starlette() -> None:
    index = RouteIndex(ROUTES)
    assert index.find(_scope("/fal-ai/flux-pro/requests/abc/status", root_path="/prefix")) is None
    mixed = RouteIndex([Mount("/fal-ai", routes=[]), *ROUTES])
    assert mixed.find(_scope("/fal-ai/flux-pro/requests/abc/status")) is None
    assert mixed.find(_scope("/a/b/c/d/e/f/g/h")) is None


def test_groups_are_short_and_keep_the_route_order() -> None:
    index = RouteIndex(ROUTES)
    status = _scope("/fal-ai/flux-pro/requests/abc/status")
    assert len(_candidates(index, status)) < len(ROUTES) / 3
    for group in index.groups:
        positions = [ROUTES.index(r) for r in group]
        assert positions == sorted(positions)
    assert _candidates(index, _scope("/a/b", root_path="/prefix")) == ROUTES  # no shortcut under a root path
    assert depth("/a/b/") == depth("/a/b") == 2


def test_app_uses_the_indexed_router() -> None:
    assert isinstance(APP.router, IndexedRouter)


def test_routing_through_the_index_over_http(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url, timeout=10) as http:
        ticket = http.post("/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "x"}).json()
        assert http.get(ticket["status_url"]).status_code == 200
        assert http.head(ticket["status_url"]).status_code == 200
        wrong = http.post(ticket["status_url"])
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"
        slashed = http.get(ticket["status_url"] + "/", follow_redirects=False)
        assert slashed.status_code == 307 and slashed.headers["location"] == ticket["status_url"]
        # Behind a TLS-terminating proxy, Starlette's own redirect names the scheme the client used.
        proxied = http.get(ticket["status_url"] + "/", headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
        assert proxied.status_code == 307
        assert proxied.headers["location"] == ticket["status_url"].replace("http://", "https://", 1)
        assert http.get("/a/b/c/d/e/f/g/h/i").status_code == 404
        assert http.get("/v1/models/black-forest-labs/flux-kontext-max").status_code == 200
        assert http.post("/run/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "x"}).status_code == 200


def test_allow_names_the_methods_of_the_most_specific_path(instant: MockServer) -> None:
    # /files/upload/{upload_id} (PUT) also fits /files/{file_id}/{file_name} (GET): the
    # path with more literal segments is the resource the 405 speaks of.
    wrong = httpx.request("OPTIONS", f"{instant.url}/files/upload/0", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "PUT"
    assert "allowed: PUT" in wrong.json()["detail"]
    # A literal path still shadows a template: POST /_mock/scenarios/reset, not DELETE of a rule.
    reset = httpx.get(f"{instant.url}/_mock/scenarios/reset", timeout=10)
    assert reset.status_code == 405 and reset.headers["allow"] == "POST"
