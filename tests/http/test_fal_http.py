"""Every fal queue endpoint and error, over HTTP against a real server."""

from __future__ import annotations

import json

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.spec.loader import default_spec
from mockserver.testing import MockServer
from tests.helpers import EDIT, MULTI, TEXT, data_uri

SPEC = default_spec()
FAL = SPEC.documents[0]


def _check(pointer: str, body: object) -> None:
    """The body conforms to the spec schema at ``pointer``."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in SPEC.validator(FAL, pointer).iter_errors(body)]
    assert errors == []


QUEUED = "/components/schemas/QueueSubmitted"
STATUS = "/components/schemas/QueueStatus"
OUTPUT = "/components/schemas/KontextOutput"
ERROR = "/components/schemas/FalError"
INVALID = "/components/schemas/FalValidationError"


def _submit(http: httpx.Client, endpoint: str = TEXT, **body: object) -> dict[str, object]:
    response = http.post(f"/{endpoint}", json={"prompt": "a cat", **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_submit_answers_a_queue_ticket_with_links_under_owner_app(http: httpx.Client, mock: MockServer) -> None:
    response = http.post(f"/{EDIT}", json={"prompt": "p", "image_url": data_uri()})
    assert response.status_code == 200
    body = response.json()
    _check(QUEUED, body)
    request_id = body["request_id"]
    assert response.headers["x-fal-request-id"] == request_id
    root = f"{mock.url}/fal-ai/flux-pro/requests/{request_id}"
    assert body["response_url"] == root
    assert body["status_url"] == root + "/status"
    assert body["cancel_url"] == root + "/cancel"
    assert body["status"] == "IN_QUEUE" and body["logs"] is None and body["metrics"] == {}


def test_status_is_202_while_pending_and_200_when_done(http: httpx.Client, clock: ManualClock) -> None:
    ticket = _submit(http)
    seen = []
    for _ in range(20):
        response = http.get(str(ticket["status_url"]))
        body = response.json()
        _check(STATUS, body)
        seen.append(body["status"])
        assert response.status_code == (200 if body["status"] == "COMPLETED" else 202)
        if body["status"] == "COMPLETED":
            assert body["metrics"]["inference_time"] > 0
            assert "queue_position" not in body
            break
        clock.advance(0.5)
    assert seen[0] == "IN_QUEUE" and "IN_PROGRESS" in seen and seen[-1] == "COMPLETED"
    assert seen == sorted(seen, key=["IN_QUEUE", "IN_PROGRESS", "COMPLETED"].index)


@pytest.mark.parametrize("flag", ["1", "true", "TRUE"])
def test_logs_are_returned_when_asked(http: httpx.Client, clock: ManualClock, flag: str) -> None:
    ticket = _submit(http)
    clock.advance(3.0)
    logs = http.get(str(ticket["status_url"]), params={"logs": flag}).json()["logs"]
    assert isinstance(logs, list) and logs
    assert any("Denoising" in line["message"] for line in logs)
    assert http.get(str(ticket["status_url"]), params={"logs": "0"}).json()["logs"] is None
    assert http.get(str(ticket["status_url"])).json()["logs"] is None


def test_a_bad_logs_value_is_a_422_naming_the_query_parameter(http: httpx.Client) -> None:
    ticket = _submit(http)
    response = http.get(str(ticket["status_url"]), params={"logs": "maybe"})
    assert response.status_code == 422
    _check(INVALID, response.json())
    assert response.json()["detail"][0]["loc"] == ["query", "logs"]


def test_result_before_completion_is_400_then_200_with_the_output(http: httpx.Client, clock: ManualClock) -> None:
    ticket = _submit(http, seed=7, num_images=2)
    early = http.get(str(ticket["response_url"]))
    assert early.status_code == 400
    _check(ERROR, early.json())
    assert early.json()["detail"] == "Request is still in progress"
    clock.advance(60)
    done = http.get(str(ticket["response_url"]))
    assert done.status_code == 200
    assert done.headers["x-fal-request-id"] == ticket["request_id"]
    body = done.json()
    _check(OUTPUT, body)
    assert body["seed"] == 7 and body["prompt"] == "a cat" and len(body["images"]) == 2
    assert body["has_nsfw_concepts"] == [False, False]


def test_cancel_answers_202_then_400_and_404(http: httpx.Client, clock: ManualClock) -> None:
    ticket = _submit(http)
    cancelled = http.put(str(ticket["cancel_url"]))
    assert (cancelled.status_code, cancelled.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    status = http.get(str(ticket["status_url"])).json()
    assert status["status"] == "COMPLETED" and status["error_type"] == "request_cancelled"
    result = http.get(str(ticket["response_url"]))
    assert result.status_code == 400 and result.json()["detail"] == "Request was cancelled"
    again = http.put(str(ticket["cancel_url"]))
    assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})
    missing = http.put("/fal-ai/flux-pro/requests/00000000-0000-0000-0000-000000000000/cancel")
    assert (missing.status_code, missing.json()) == (404, {"status": "NOT_FOUND"})


def test_a_completed_job_cannot_be_cancelled(http: httpx.Client, clock: ManualClock) -> None:
    ticket = _submit(http)
    clock.advance(60)
    response = http.put(str(ticket["cancel_url"]))
    assert (response.status_code, response.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert http.get(str(ticket["response_url"])).status_code == 200


@pytest.mark.parametrize("suffix", ["/status", "", "/status/stream"])
def test_unknown_requests_are_404(http: httpx.Client, suffix: str) -> None:
    response = http.get(f"/fal-ai/flux-pro/requests/not-a-real-id{suffix}")
    assert response.status_code == 404
    _check(ERROR, response.json())


def test_a_request_is_not_found_under_another_app(http: httpx.Client) -> None:
    ticket = _submit(http)
    response = http.get(f"/fal-ai/flux-dev/requests/{ticket['request_id']}/status")
    assert response.status_code == 404


def test_a_status_url_with_the_subpath_gets_a_hint(http: httpx.Client) -> None:
    ticket = _submit(http)
    response = http.get(f"/fal-ai/flux-pro/kontext/max/text-to-image/requests/{ticket['request_id']}/status")
    assert response.status_code == 404
    assert f"/fal-ai/flux-pro/requests/{ticket['request_id']}/status" in response.json()["detail"]


def test_results_expire_after_the_retention(clock: ManualClock) -> None:
    with MockServer(clock=clock, retention_seconds=30, time_scale=0) as mock, httpx.Client(base_url=mock.url) as http:
        ticket = _submit(http)
        image_url = http.get(str(ticket["response_url"])).json()["images"][0]["url"]
        assert http.get(image_url).status_code == 200
        clock.advance(31)
        assert http.get(str(ticket["status_url"])).status_code == 404
        assert http.get(str(ticket["response_url"])).status_code == 404
        assert http.get(image_url).status_code == 404


def test_the_sse_stream_sends_each_change_and_closes_after_completed(http: httpx.Client, clock: ManualClock) -> None:
    ticket = _submit(http)
    events: list[dict[str, object]] = []
    with http.stream("GET", f"{ticket['status_url']}/stream", params={"logs": "1"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: "):])
            _check(STATUS, event)
            events.append(event)
            clock.advance(1.0)  # each event moves time on, so the next one differs
    states = [e["status"] for e in events]
    assert states[0] == "IN_QUEUE" and states[-1] == "COMPLETED"
    assert "IN_PROGRESS" in states
    assert len(events[-1]["logs"]) > len(events[1]["logs"])  # type: ignore[arg-type]


def test_the_sync_run_endpoint_answers_the_bare_result(instant: MockServer) -> None:
    response = httpx.post(f"{instant.url}/run/{TEXT}", json={"prompt": "now", "seed": 1}, timeout=10)
    assert response.status_code == 200
    _check(OUTPUT, response.json())
    assert response.headers["x-fal-request-id"]
    assert httpx.get(response.json()["images"][0]["url"]).status_code == 200


def test_the_sync_run_endpoint_validates_against_the_model(instant: MockServer) -> None:
    response = httpx.post(f"{instant.url}/run/{EDIT}", json={"prompt": "no image"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "image_url"]
    missing = httpx.post(f"{instant.url}/run/fal-ai/no-such-model", json={"prompt": "x"})
    assert missing.status_code == 404 and "no-such-model" in missing.json()["detail"]


# ---- validation and malformed requests --------------------------------------------


def test_every_failing_field_is_named_in_one_422(http: httpx.Client) -> None:
    response = http.post(
        f"/{MULTI}",
        json={"image_urls": [], "num_images": 5, "guidance_scale": 0, "safety_tolerance": 2, "output_format": "gif"},
    )
    assert response.status_code == 422
    body = response.json()
    _check(INVALID, body)
    by_field = {tuple(issue["loc"]): issue["type"] for issue in body["detail"]}
    assert by_field == {
        ("body", "prompt"): "value_error.missing",
        ("body", "image_urls"): "value_error.list.min_items",
        ("body", "num_images"): "value_error.number.not_le",
        ("body", "guidance_scale"): "value_error.number.not_ge",
        ("body", "safety_tolerance"): "type_error.str",
        ("body", "output_format"): "type_error.enum",
    }


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"prompt": 5}, ["body", "prompt"], "type_error.str"),
        ({"prompt": "p", "seed": "1"}, ["body", "seed"], "type_error.integer"),
        ({"prompt": "p", "seed": True}, ["body", "seed"], "type_error.integer"),
        ({"prompt": "p", "sync_mode": "yes"}, ["body", "sync_mode"], "type_error.bool"),
        ({"prompt": "p", "aspect_ratio": "string"}, ["body", "aspect_ratio"], "type_error.enum"),
        ({"prompt": "p", "num_images": 0}, ["body", "num_images"], "value_error.number.not_ge"),
        ({"prompt": "p", "num_images": 2.5}, ["body", "num_images"], "type_error.integer"),
        ({"prompt": "p", "guidance_scale": 21}, ["body", "guidance_scale"], "value_error.number.not_le"),
        ([1, 2], ["body"], "type_error.dict"),
        ("text", ["body"], "type_error.dict"),
    ],
)
def test_single_field_errors(http: httpx.Client, body: object, loc: list[object], kind: str) -> None:
    response = http.post(f"/{TEXT}", json=body)
    assert response.status_code == 422
    assert [(i["loc"], i["type"]) for i in response.json()["detail"]] == [(loc, kind)]


def test_each_422_item_quotes_its_input_and_links_its_error_page(http: httpx.Client) -> None:
    body = {"image_urls": [data_uri()], "num_images": 5, "output_format": "gif", "surprise": 1}
    response = http.post(f"/{MULTI}", json=body)
    assert response.status_code == 422
    _check(INVALID, response.json())
    items = {tuple(issue["loc"]): issue for issue in response.json()["detail"]}
    # A missing field quotes the object it is missing from, as pydantic does; a data URI is cut short.
    missing = items[("body", "prompt")]
    assert missing["input"]["num_images"] == 5
    quoted_uri = missing["input"]["image_urls"][0]
    assert quoted_uri.startswith("data:image/") and quoted_uri.endswith(" characters)") and len(quoted_uri) < 260
    assert missing["url"] == "https://errors.pydantic.dev/2.10/v/missing"
    too_many = items[("body", "num_images")]
    assert (too_many["input"], too_many["ctx"]) == (5, {"limit_value": 4})
    assert too_many["url"].endswith("/less_than_equal")
    assert items[("body", "output_format")]["input"] == "gif"
    assert all(issue["url"].startswith("https://errors.pydantic.dev/") for issue in items.values())


def test_an_error_about_a_known_request_names_it(clock: ManualClock) -> None:
    with MockServer(clock=clock, api_key="id:secret") as mock, httpx.Client(base_url=mock.url) as http:
        key = {"authorization": "Key id:secret"}
        ticket = http.post(f"/{TEXT}", json={"prompt": "p"}, headers=key).json()
        # Refused before the handler looked the job up (wrong key, a bad query): still named.
        refused = http.get(ticket["status_url"])
        assert refused.status_code == 401 and refused.headers["x-fal-request-id"] == ticket["request_id"]
        bad_query = http.get(ticket["status_url"], params={"logs": "maybe"}, headers=key)
        assert bad_query.status_code == 422 and bad_query.headers["x-fal-request-id"] == ticket["request_id"]
        # An id the server does not know is no request of its own to name.
        unknown = http.get("/fal-ai/flux-pro/requests/00000000-0000-4000-8000-000000000000/status", headers=key)
        assert unknown.status_code == 404 and "x-fal-request-id" not in unknown.headers


def test_a_bad_image_url_is_rejected(http: httpx.Client) -> None:
    response = http.post(f"/{EDIT}", json={"prompt": "p", "image_url": "not a url"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "image_url"]


def test_unknown_fields_are_ignored_as_fal_does(http: httpx.Client) -> None:
    response = http.post(f"/{TEXT}", json={"prompt": "p", "no_such_field": 1})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad",
        b"",
        b"   ",
        b'{"prompt": NaN}',
        b'{"prompt": "\xff"}',
        b"[" * 100_000,
        b'{"seed": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_json_is_a_422_not_a_crash(http: httpx.Client, raw: bytes) -> None:
    response = http.post(f"/{TEXT}", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    _check(INVALID, response.json())
    assert response.json()["detail"][0]["type"] == "value_error.jsondecode"
    assert http.get("/_mock/health").status_code == 200


def test_a_wrong_content_type_is_415(http: httpx.Client) -> None:
    response = http.post(f"/{TEXT}", content=b'{"prompt":"p"}', headers={"content-type": "text/plain"})
    assert response.status_code == 415
    _check(ERROR, response.json())
    assert response.headers["x-fal-error-type"] == "unsupported_media_type"


def test_a_missing_content_type_is_read_as_json(http: httpx.Client) -> None:
    response = http.post(f"/{TEXT}", content=b'{"prompt":"p"}')
    assert response.status_code == 200


def test_an_oversized_body_is_413(clock: ManualClock) -> None:
    with MockServer(clock=clock, max_body_bytes=1000) as mock:
        response = httpx.post(f"{mock.url}/{TEXT}", json={"prompt": "x" * 2000})
        assert response.status_code == 413
        assert httpx.post(f"{mock.url}/{TEXT}", json={"prompt": "x"}).status_code == 200


def test_unknown_routes_and_methods_are_json_errors(http: httpx.Client) -> None:
    missing = http.post("/fal-ai/flux-pro/kontext/maxx", json={"prompt": "p"})
    assert missing.status_code == 404
    _check(ERROR, missing.json())
    wrong = http.get(f"/{TEXT}")
    assert wrong.status_code == 405
    assert "POST" in wrong.json()["detail"] and "POST" in wrong.headers["allow"]


# ---- links, auth ----------------------------------------------------------------


def test_links_follow_forwarded_headers(http: httpx.Client) -> None:
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "gateway.example:8443", "x-forwarded-prefix": "/api"}
    body = http.post(f"/{TEXT}", json={"prompt": "p"}, headers=headers).json()
    assert body["status_url"].startswith("https://gateway.example:8443/api/fal-ai/flux-pro/requests/")


def test_links_follow_the_host_header_and_ignore_junk_forwarding(http: httpx.Client) -> None:
    body = http.post(f"/{TEXT}", json={"prompt": "p"}, headers={"host": "mock.local:1234"}).json()
    assert body["status_url"].startswith("http://mock.local:1234/")
    junk = {"x-forwarded-host": "evil.example/path?x", "x-forwarded-proto": "javascript"}
    body = http.post(f"/{TEXT}", json={"prompt": "p"}, headers={**junk, "host": "mock.local"}).json()
    assert body["status_url"].startswith("http://mock.local/")


def test_any_key_is_accepted_without_api_key(http: httpx.Client) -> None:
    for header in ({}, {"authorization": "Key a:b"}, {"authorization": "Bearer z"}):
        assert http.post(f"/{TEXT}", json={"prompt": "p"}, headers=header).status_code == 200


def test_api_key_is_enforced_on_api_routes_only(clock: ManualClock) -> None:
    with MockServer(clock=clock, api_key="id:secret", time_scale=0) as mock, httpx.Client(base_url=mock.url) as http:
        for header in ({}, {"authorization": "Key wrong"}, {"authorization": "Basic id:secret"}):
            response = http.post(f"/{TEXT}", json={"prompt": "p"}, headers=header)
            assert response.status_code == 401
            _check(ERROR, response.json())
        good = http.post(f"/{TEXT}", json={"prompt": "p"}, headers={"authorization": "Key id:secret"})
        assert good.status_code == 200
        status_url = good.json()["status_url"]
        assert http.get(status_url).status_code == 401
        assert http.get(status_url, headers={"authorization": "bearer id:secret"}).status_code == 200
        result = http.get(good.json()["response_url"], headers={"authorization": "Bearer id:secret"}).json()
        # images are public, like fal's CDN
        assert http.get(result["images"][0]["url"]).status_code == 200
        assert http.get("/_mock/health").status_code == 200
