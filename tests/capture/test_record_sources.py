"""Where the recorder sends a request and what it tells the upstream; files kept per source, not per path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.cassette.reader import read_cassette
from mockserver.testing import MockServer, RecordingProxy
from tests.helpers import TEXT

Wrap = Callable[[ASGIApp], ASGIApp]


def cdn(tag: bytes) -> Wrap:
    """Middleware serving ``tag`` as every image under /img/."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/img/"):
                await Response(tag, media_type="image/png")(scope, receive, send)
                return
            await app(scope, receive, send)

        return wrapped

    return wrap


def results(*bodies: dict[str, Any]) -> Wrap:
    """Middleware answering the n-th result fetch with the n-th body."""
    left = list(bodies)

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            if scope["type"] != "http" or "/requests/" not in path or path.endswith("/status"):
                await app(scope, receive, send)
                return
            await Response(json.dumps(left.pop(0)), media_type="application/json")(scope, receive, send)

        return wrapped

    return wrap


@pytest.fixture
def cdns() -> Iterator[tuple[MockServer, MockServer]]:
    with MockServer(time_scale=0, wrap=cdn(b"PNG-ONE")) as one, MockServer(time_scale=0, wrap=cdn(b"PNG-TWO")) as two:
        yield one, two


def test_files_at_one_path_on_two_hosts_are_kept_apart(cdns: tuple[MockServer, MockServer], tmp_path: Path) -> None:
    one, two = cdns
    first = {"images": [{"url": f"{one.url}/img/a.png"}, {"url": f"{one.url}/img/my%20pic.png"}]}
    second = {"images": [{"url": f"{two.url}/img/a.png"}]}
    with MockServer(time_scale=0, wrap=results(first, second)) as up, RecordingProxy(
        upstream=up.url, cassette=tmp_path
    ) as rec, httpx.Client(timeout=10) as http:
        a = http.get(http.post(f"{rec.url}/{TEXT}", json={"prompt": "one"}).json()["response_url"]).json()
        b = http.get(http.post(f"{rec.url}/{TEXT}", json={"prompt": "two"}).json()["response_url"]).json()
        a_url, b_url = a["images"][0]["url"], b["images"][0]["url"]
        assert a_url.startswith(rec.url + "/") and b_url.startswith(rec.url + "/") and a_url != b_url
        assert [http.get(a_url).content, http.get(b_url).content] == [b"PNG-ONE", b"PNG-TWO"]
    files = read_cassette(tmp_path).files
    assert {f.source: f.data for f in files.values()} == {
        f"{one.url}/img/a.png": b"PNG-ONE",
        f"{one.url}/img/my%20pic.png": b"PNG-ONE",
        f"{two.url}/img/a.png": b"PNG-TWO",
    }
    with MockServer(time_scale=0, replay=tmp_path) as replay, httpx.Client(timeout=10) as http:
        a = http.get(http.post(f"{replay.url}/{TEXT}", json={"prompt": "one"}).json()["response_url"]).json()
        b = http.get(http.post(f"{replay.url}/{TEXT}", json={"prompt": "two"}).json()["response_url"]).json()
        links = [image["url"] for image in a["images"] + b["images"]]
        assert all(link.startswith(replay.url + "/") for link in links), links
        assert [http.get(link).content for link in links] == [b"PNG-ONE", b"PNG-ONE", b"PNG-TWO"]


def test_forwarding_headers_are_the_recorder_s_and_not_passed_on(upstream: MockServer, tmp_path: Path) -> None:
    forwarding = {"X-Forwarded-Prefix": "/gw", "X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1"}
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path) as rec:
        ticket = httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "x"}, headers=forwarding, timeout=10).json()
    assert ticket["status_url"].startswith(f"{rec.url}/gw/fal-ai/"), ticket["status_url"]
    (submit,) = read_cassette(tmp_path).exchanges
    assert not {name.lower() for name in forwarding} & submit.request.headers.keys()


def test_a_route_is_found_on_the_path_it_is_cut_from(upstream: MockServer, tmp_path: Path) -> None:
    with MockServer(time_scale=0) as run, RecordingProxy(
        upstream=upstream.url, cassette=tmp_path, routes={"/run": run.url}
    ) as rec:
        httpx.post(f"{rec.url}/%72un/{TEXT}", json={"prompt": "y"}, timeout=10)
    (sent,) = read_cassette(tmp_path).exchanges
    assert sent.url == f"{upstream.url}/%72un/{TEXT}"
