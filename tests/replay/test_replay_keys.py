"""What a recorded exchange is found by: its method, its path as decoded, a body that can be compared at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.testing import MockServer, RecordingProxy
from tests.helpers import TEXT

KEY = {"Authorization": "Bearer sk-test-123456"}


def answering(path: str) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware that answers ``path`` itself, naming the method (201 for DELETE, else 200)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == path:
                status = 201 if scope["method"] == "DELETE" else 200
                await JSONResponse({"answered": scope["method"]}, status_code=status)(scope, receive, send)
                return
            await app(scope, receive, send)

        return wrapped

    return wrap


def test_a_body_too_deep_to_compare_is_a_miss_as_the_plain_mock_answers_it(tmp_path: Path) -> None:
    body, json_type = b"[" * 500 + b"]" * 500, {"content-type": "application/json"}
    with MockServer(time_scale=0) as plain:
        expected = httpx.post(f"{plain.url}/{TEXT}", content=body, headers=json_type, timeout=10).status_code
    with MockServer(time_scale=0) as up, RecordingProxy(upstream=up.url, cassette=tmp_path) as rec:
        httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "p"}, timeout=10)
    with MockServer(time_scale=0, replay=tmp_path) as replay:
        status = httpx.post(f"{replay.url}/{TEXT}", content=body, headers=json_type, timeout=10).status_code
    assert status == expected == 422


def test_the_method_is_part_of_what_is_matched(tmp_path: Path) -> None:
    path = "/v1/images/variations"
    with MockServer(time_scale=0, wrap=answering(path)) as up, RecordingProxy(
        upstream=up.url, cassette=tmp_path
    ) as rec:
        assert httpx.delete(rec.url + path, timeout=10).status_code == 201
        assert httpx.get(rec.url + path, timeout=10).status_code == 200
    with MockServer(time_scale=0, replay=tmp_path) as replay:
        got = httpx.get(replay.url + path, timeout=10)
        assert (got.status_code, got.json()) == (200, {"answered": "GET"})
        gone = httpx.delete(replay.url + path, timeout=10)
        assert (gone.status_code, gone.json()) == (201, {"answered": "DELETE"})


def test_a_percent_encoded_path_replays(tmp_path: Path) -> None:
    path = "/v1/models/black-forest-labs%2Fflux-kontext-max"
    with MockServer(time_scale=0) as up, RecordingProxy(upstream=up.url, cassette=tmp_path) as rec:
        recorded = httpx.get(rec.url + path, headers=KEY, timeout=10)
        assert recorded.status_code == 200
    with MockServer(time_scale=0, replay=tmp_path, replay_miss="404") as replay:
        got = httpx.get(replay.url + path, headers=KEY, timeout=10)
        assert (got.status_code, got.json()) == (200, recorded.json())


def test_only_the_admin_prefix_s_own_segment_is_the_mock_s(tmp_path: Path) -> None:
    path = "/_mockery"  # shares its first letters with /_mock, nothing else
    with MockServer(time_scale=0, wrap=answering(path)) as up, RecordingProxy(
        upstream=up.url, cassette=tmp_path
    ) as rec:
        assert httpx.get(rec.url + path, timeout=10).status_code == 200
    with MockServer(time_scale=0, replay=tmp_path) as replay:
        got = httpx.get(replay.url + path, timeout=10)
        assert (got.status_code, got.json()) == (200, {"answered": "GET"})
        assert httpx.get(replay.url + "/_mock/health", timeout=10).status_code == 200
