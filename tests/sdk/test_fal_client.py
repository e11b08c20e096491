"""The real fal-client package against the mock, its URL globals pointed at it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import fal_client
import fal_client.client
import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer
from tests.helpers import EDIT, TEXT, data_uri, decode


@pytest.fixture
def fal_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    """A mock whose jobs take a few tenths of a second, so the client really polls."""
    with MockServer(time_scale=0.05, concurrency=1) as server:
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", server.url + "/")
        monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", server.url + "/run/")
        monkeypatch.setenv("FAL_KEY", "mock-id:mock-secret")
        yield server


def test_submit_status_with_logs_and_result(fal_mock: MockServer) -> None:
    handle = fal_client.submit(TEXT, {"prompt": "a red bicycle", "seed": 5, "aspect_ratio": "16:9"})
    assert handle.status_url.startswith(fal_mock.url + "/fal-ai/flux-pro/requests/")
    first = handle.status(with_logs=True)
    assert isinstance(first, (fal_client.Queued, fal_client.InProgress))
    statuses = list(handle.iter_events(with_logs=True, interval=0.05))
    final = statuses[-1]
    assert isinstance(final, fal_client.Completed)
    assert final.metrics["inference_time"] > 0
    assert final.logs and any("Denoising" in line["message"] for line in final.logs)
    result = handle.get()
    assert result["seed"] == 5
    image = result["images"][0]
    assert (image["width"], image["height"]) == (1392, 752)
    picture = decode(httpx.get(image["url"]).content)
    assert picture.size == (1392, 752) and picture.format == "JPEG"


def test_subscribe_reports_queue_updates(fal_mock: MockServer) -> None:
    # A job already running makes the subscribed one wait in the queue first.
    fal_client.submit(TEXT, {"prompt": "ahead"})
    updates: list[object] = []
    result = fal_client.subscribe(
        EDIT,
        {"prompt": "put a hat on it", "image_url": data_uri((300, 200))},
        with_logs=True,
        on_queue_update=updates.append,
    )
    kinds = [type(u).__name__ for u in updates]
    assert kinds[0] == "Queued" and "InProgress" in kinds and kinds[-1] == "Completed"
    positions = [u.position for u in updates if isinstance(u, fal_client.Queued)]
    assert positions == sorted(positions, reverse=True)
    # 300x200 is 3:2, so the edit follows its input's shape
    assert (result["images"][0]["width"], result["images"][0]["height"]) == (1248, 832)


def test_cancel_through_the_client(fal_mock: MockServer) -> None:
    fal_client.submit(TEXT, {"prompt": "ahead"})
    handle = fal_client.submit(TEXT, {"prompt": "never mind"})
    handle.cancel()
    final = handle.status()
    assert isinstance(final, fal_client.Completed)
    assert final.error_type == "request_cancelled"
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        handle.get()
    assert caught.value.status_code == 400


def test_run_uses_the_sync_endpoint(fal_mock: MockServer) -> None:
    result = fal_client.run(TEXT, {"prompt": "right now", "output_format": "png", "sync_mode": True})
    image = result["images"][0]
    assert image["content_type"] == "image/png"
    assert image["url"].startswith("data:image/png;base64,")


def test_validation_errors_reach_the_client_as_http_errors(fal_mock: MockServer) -> None:
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        fal_client.submit(EDIT, {"prompt": "no image", "num_images": 9})
    error = caught.value
    assert error.status_code == 422
    details: object = error.message  # typed str by fal-client, yet it carries the JSON detail list
    assert isinstance(details, list)
    assert {tuple(d["loc"]) for d in details} == {("body", "image_url"), ("body", "num_images")}


def test_the_client_sees_a_wrong_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with MockServer(api_key="right:key", time_scale=0) as server:
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", server.url + "/")
        # The module-level client caches its key, so each key gets its own client.
        with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
            fal_client.SyncClient(key="wrong:key").submit(TEXT, {"prompt": "p"})
        assert caught.value.status_code == 401
        assert caught.value.error_type == "unauthorized"
        assert fal_client.SyncClient(key="right:key").submit(TEXT, {"prompt": "p"}).request_id


def test_a_manual_clock_controls_what_the_client_sees(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    with MockServer(clock=clock) as server:
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", server.url + "/")
        monkeypatch.setenv("FAL_KEY", "k")
        handle = fal_client.submit(TEXT, {"prompt": "p"})
        assert isinstance(handle.status(), fal_client.Queued)
        clock.advance(1)
        assert isinstance(handle.status(), fal_client.InProgress)
        clock.advance(60)
        assert isinstance(handle.status(), fal_client.Completed)


def test_the_client_gets_a_realtime_token_from_the_rest_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # What fal-client's realtime() and stream helpers fetch first (the socket itself is not served).
    with MockServer(time_scale=0) as server:
        monkeypatch.setattr(fal_client.client, "REST_URL", server.url)
        token = fal_client.SyncClient(key="k")._get_realtime_token(EDIT)
        assert token.startswith("flux-mock.") and len(token) > 20
        assert token != fal_client.SyncClient(key="k")._get_realtime_token(EDIT)
        asked = [e for e in httpx.get(f"{server.url}/_mock/journal").json()["entries"] if e["path"] == "/tokens/"]
        assert asked[0]["body"] == {"allowed_apps": ["flux-pro"], "token_expiration": 120}
        refused = httpx.post(f"{server.url}/tokens/", json={"allowed_apps": []})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "allowed_apps"]


def test_stream_yields_progress_then_the_output(fal_mock: MockServer) -> None:
    events = list(fal_client.stream(TEXT, {"prompt": "a streamed kite", "seed": 12}))
    *progress, output = events
    assert progress and all(e["status"] in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED") for e in progress)
    logs = [line["message"] for e in progress for line in e.get("logs", [])]
    assert logs[0].startswith("Running") and logs[-1].startswith("Generated")  # each line once, in order
    assert len(logs) == len(set(logs))
    assert output["seed"] == 12 and output["images"][0]["url"].startswith(fal_mock.url + "/files/")
    assert httpx.get(output["images"][0]["url"]).status_code == 200


async def _async_stream(arguments: dict[str, object]) -> list[dict[str, object]]:
    return [event async for event in fal_client.stream_async(TEXT, arguments)]


def test_stream_async_ends_with_the_same_output(fal_mock: MockServer) -> None:
    import asyncio

    events = asyncio.run(_async_stream({"prompt": "async kite", "seed": 12, "aspect_ratio": "16:9"}))
    images = events[-1]["images"]
    assert isinstance(images, list) and (images[0]["width"], images[0]["height"]) == (1392, 752)


def test_a_failing_stream_ends_with_an_error_event(fal_mock: MockServer) -> None:
    broken = "data:image/png;base64,bm90IGFuIGltYWdl"  # decodes to text, not an image
    with httpx.stream("POST", f"{fal_mock.url}/run/{EDIT}/stream", json={"prompt": "p", "image_url": broken}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: error\ndata: ")
    error = json.loads(last.split("data: ", 1)[1])
    assert error["status"] == 422 and error["detail"][0]["loc"] == ["body", "image_url"]
    # Refusals before the stream starts are plain answers.
    assert httpx.post(f"{fal_mock.url}/run/{EDIT}/stream", json={"prompt": "no image"}).status_code == 422
    assert httpx.post(f"{fal_mock.url}/run/fal-ai/none/stream", json={"prompt": "p"}).status_code == 404
