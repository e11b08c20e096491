"""The proxy route as @fal-ai/client calls it: the real target in `x-fal-target-url` (no network needed)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.testing import MockServer
from tests.helpers import specs_with

PROXY = "/api/fal/proxy"
T2I = "fal-ai/flux-pro/kontext/max/text-to-image"


def via(target: str) -> dict[str, str]:
    return {"x-fal-target-url": target}


def test_queue_lifecycle_through_the_proxy(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url) as http:
        submitted = http.post(PROXY, headers=via(f"https://queue.fal.run/{T2I}"), json={"prompt": "p", "seed": 1})
        assert submitted.status_code == 200
        request_id = submitted.json()["request_id"]
        assert submitted.headers["x-fal-request-id"] == request_id
        root = f"https://queue.fal.run/fal-ai/flux-pro/requests/{request_id}"
        status = http.get(PROXY, headers=via(f"{root}/status?logs=1"))
        assert status.status_code == 200
        assert status.json()["status"] == "COMPLETED"
        assert isinstance(status.json()["logs"], list)  # the query string went along
        result = http.get(PROXY, headers=via(root))
        assert result.json()["seed"] == 1
        cancel = http.put(PROXY, headers=via(f"{root}/cancel"))
        assert (cancel.status_code, cancel.json()) == (400, {"status": "ALREADY_COMPLETED"})


@pytest.mark.parametrize("run_host", ["https://fal.run", "https://FAL.run", "http://fal.run", "https://fal.run:8443"])
def test_run_host_maps_to_the_run_prefix(instant: MockServer, run_host: str) -> None:
    # By host name, whatever the scheme or port, as a proxy forwards.
    answer = httpx.post(f"{instant.url}{PROXY}", headers=via(f"{run_host}/{T2I}"), json={"prompt": "now"})
    assert answer.status_code == 200
    assert answer.json()["prompt"] == "now"  # the bare result, no queue ticket


def test_the_run_host_s_prefix_is_the_spec_s(tmp_path: Path) -> None:
    # x-mock-hosts names the host that /run stands for; the proxy follows it.
    specs = specs_with(tmp_path, '{prefix: /run, url: "https://fal.run"}', '{prefix: /run, url: "https://sync.fal.ai"}')
    with MockServer(time_scale=0, spec_paths=tuple(specs)) as mock:
        moved = httpx.post(f"{mock.url}{PROXY}", headers=via(f"https://sync.fal.ai/{T2I}"), json={"prompt": "now"})
        assert moved.status_code == 200 and moved.json()["prompt"] == "now"
        queued = httpx.post(f"{mock.url}{PROXY}", headers=via(f"https://fal.run/{T2I}"), json={"prompt": "now"})
        assert queued.status_code == 200 and "request_id" in queued.json()  # now just a fal host: the queue's path


def test_errors_of_the_target_come_back_unchanged(instant: MockServer) -> None:
    answer = httpx.post(f"{instant.url}{PROXY}", headers=via(f"https://queue.fal.run/{T2I}"), json={"seed": 1})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "prompt"]
    missing = httpx.get(f"{instant.url}{PROXY}", headers=via("https://queue.fal.run/fal-ai/flux-pro/requests/nope"))
    assert missing.status_code == 404


def test_webhook_query_is_forwarded_and_checked(instant: MockServer) -> None:
    target = f"https://queue.fal.run/{T2I}?fal_webhook=https%3A%2F%2Fexample.com%2Fhook"
    answer = httpx.post(f"{instant.url}{PROXY}", headers=via(target), json={"prompt": "p"})
    assert answer.status_code == 403
    assert answer.json()["error_type"] == "webhook_target_not_allowed"


def test_missing_target_header_is_a_400(instant: MockServer) -> None:
    answer = httpx.post(f"{instant.url}{PROXY}", json={"prompt": "p"})
    assert answer.status_code == 400
    assert "x-fal-target-url" in answer.json()["detail"]


@pytest.mark.parametrize(
    "target",
    [
        "https://example.com/fal-ai/x",
        "https://evilfal.run/x",
        "ftp://queue.fal.run/x",
        "not a url",
        "https://fal.run.evil/x",
        "https://[::1/x",
    ],
)
def test_only_fal_targets_are_served(instant: MockServer, target: str) -> None:
    before = len(instant.context.queue.jobs)
    answer = httpx.post(f"{instant.url}{PROXY}", headers=via(target), json={"prompt": "p"})
    assert answer.status_code == 412
    assert answer.json()["error_type"] == "invalid_target_url"
    assert len(instant.context.queue.jobs) == before


def test_proxy_pointing_at_itself_does_not_loop(instant: MockServer) -> None:
    answer = httpx.post(f"{instant.url}{PROXY}", headers=via(f"https://queue.fal.run{PROXY}"), json={})
    assert answer.status_code == 400  # the forwarded call has no target header left


def test_non_ascii_target_is_handled(instant: MockServer) -> None:
    target = "https://queue.fal.run/fal-ai/flux-pro/requests/%C3%A9t%C3%A9/status?x=%C3%A9"
    answer = httpx.get(f"{instant.url}{PROXY}", headers=via(target))
    assert answer.status_code == 404


def test_upload_token_through_the_proxy(instant: MockServer) -> None:
    answer = httpx.post(
        f"{instant.url}{PROXY}", headers=via("https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3"), json={}
    )
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("match", [{"path": PROXY}, {}], ids=["proxy-only", "every-call"])
def test_a_latency_in_front_of_the_proxy_leaves_the_body_to_the_target(match: dict[str, object]) -> None:
    # A rule that holds the proxy call reads its body while it waits; the target must still get it.
    rule = {"match": match, "effect": {"type": "latency", "ms": 50}}
    with MockServer(time_scale=0) as mock, httpx.Client(base_url=mock.url, timeout=5) as http:
        assert http.post("/_mock/scenarios", json=rule).status_code == 201
        answer = http.post(PROXY, headers=via(f"https://queue.fal.run/{T2I}"), json={"prompt": "held", "seed": 3})
        assert answer.status_code == 200, answer.text
        root = f"https://queue.fal.run/fal-ai/flux-pro/requests/{answer.json()['request_id']}"
        result = http.get(PROXY, headers=via(root))
        assert result.status_code == 200, result.text
        assert result.json()["seed"] == 3
