"""The OpenAI-compatible images API over plain HTTP: every error, and the odd inputs."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.http import app as app_module
from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer
from tests.helpers import MAGENTA, count_colour, data_uri, decode, png

MULTI = "black-forest-labs/flux-kontext-max/multi"
SINGLE = "black-forest-labs/flux-kontext-max"
TEXT = "black-forest-labs/flux-kontext-max/text-to-image"
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"


@pytest.fixture
def api(instant: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=instant.url, timeout=30) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The OpenAI-shaped error of ``response``, after the checks every error must pass."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    request_id = response.headers["x-request-id"]
    assert request_id.startswith("req_") and error["param"] == request_id
    return error


def test_every_failing_field_is_named_in_one_answer(api: httpx.Client) -> None:
    body = {
        "model": MULTI,
        "images": [],
        "n": 0,
        "steps": 51,
        "guidance_scale": 10.5,
        "seed": -2,
        "response_format": "png",
        "aspect_ratio": "5:4",
        "negative_prompt": 3,
    }
    error = error_of(api.post(GENERATIONS, json=body), 400)
    assert error["code"] == "param_error" and error["type"] == "invalid_request_error"
    fields = ("images", "n", "steps", "guidance_scale", "seed", "response_format", "aspect_ratio", "negative_prompt")
    for field in fields:
        assert f"{field}: " in error["message"], field


def test_single_image_model_checks_image_and_strength(api: httpx.Client) -> None:
    error = error_of(api.post(GENERATIONS, json={"model": SINGLE, "prompt": "x", "strength": 1.5}), 400)
    assert "image: field required" in error["message"]
    assert "strength: ensure this value is less than or equal to 1" in error["message"]


def test_text_to_image_needs_a_prompt(api: httpx.Client) -> None:
    error = error_of(api.post(GENERATIONS, json={"model": TEXT}), 400)
    assert "prompt: field required" in error["message"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "model: field required"),
        ({"model": 5}, "model: str type expected"),
        ({"model": "dall-e-3", "prompt": "x"}, "model: unknown model 'dall-e-3'"),
        ([1, 2], "value is not a valid dict"),
    ],
)
def test_the_model_is_checked_first(api: httpx.Client, body: Any, expected: str) -> None:
    error = error_of(api.post(GENERATIONS, json=body), 400)
    assert expected in error["message"]


def test_unknown_model_lists_the_served_ones(api: httpx.Client) -> None:
    error = error_of(api.post(GENERATIONS, json={"model": "flux-dev", "prompt": "x"}), 400)
    assert all(name in error["message"] for name in (MULTI, SINGLE, TEXT))


def test_malformed_json_is_a_400(api: httpx.Client) -> None:
    response = api.post(GENERATIONS, content=b'{"model": ', headers={"content-type": "application/json"})
    assert "JSON decode error" in error_of(response, 400)["message"]


def test_wrong_content_types(api: httpx.Client) -> None:
    error = error_of(api.post(GENERATIONS, content=b"hello", headers={"content-type": "text/plain"}), 415)
    assert error["code"] == "unsupported_media_type"
    error = error_of(api.post(EDITS, json={"model": MULTI, "prompt": "x"}), 415)
    assert "multipart/form-data" in error["message"]


def test_body_over_the_limit_is_a_413() -> None:
    with MockServer(time_scale=0, max_body_bytes=2000) as server:
        big = {"model": TEXT, "prompt": "x" * 5000}
        error_of(httpx.post(f"{server.url}{GENERATIONS}", json=big), 413)
        files = {"image": ("a.png", b"\0" * 5000, "image/png")}
        error_of(httpx.post(f"{server.url}{EDITS}", data={"prompt": "x"}, files=files), 413)


def test_malformed_multipart_is_a_400(api: httpx.Client) -> None:
    response = api.post(EDITS, content=b"--x\r\nnonsense", headers={"content-type": "multipart/form-data"})
    assert "multipart" in error_of(response, 400)["message"].lower()


def test_edit_needs_an_image_file(api: httpx.Client) -> None:
    error = error_of(api.post(EDITS, data={"prompt": "x"}, files={"other": ("a.txt", b"hi", "text/plain")}), 400)
    assert "image: field required" in error["message"]


def test_edit_fields_are_typed_from_the_models_schema(api: httpx.Client) -> None:
    files = {"image": ("a.png", png((32, 32), MAGENTA), "image/png")}
    error = error_of(api.post(EDITS, data={"prompt": "x", "n": "lots", "guidance_scale": "0.5"}, files=files), 400)
    assert "n: value is not a valid integer" in error["message"]
    assert "guidance_scale: ensure this value is greater than or equal to 1" in error["message"]


def test_edit_of_a_single_image_model_takes_one_file(api: httpx.Client) -> None:
    image = png((32, 32), MAGENTA)
    files = [("image[]", ("a.png", image, "image/png")), ("image[]", ("b.png", image, "image/png"))]
    error = error_of(api.post(EDITS, data={"model": SINGLE, "prompt": "x"}, files=files), 400)
    assert "image[]: model black-forest-labs/flux-kontext-max takes one image, got 2" in error["message"]


def test_text_to_image_takes_no_upload(api: httpx.Client) -> None:
    files = {"image": ("a.png", png((32, 32), MAGENTA), "image/png")}
    error = error_of(api.post(EDITS, data={"model": TEXT, "prompt": "x"}, files=files), 400)
    assert "takes no input image" in error["message"]


def test_an_upload_that_is_not_an_image_is_a_400(api: httpx.Client) -> None:
    files = {"image": ("notes.png", b"definitely not a png", "image/png")}
    error = error_of(api.post(EDITS, data={"prompt": "x"}, files=files), 400)
    assert "images[0]" in error["message"] and "cannot load image" in error["message"]


def test_an_input_image_that_cannot_be_read_is_a_400(api: httpx.Client) -> None:
    body = {"model": MULTI, "prompt": "x", "images": [data_uri((8, 8), MAGENTA), "data:image/png;base64,AAAA"]}
    error = error_of(api.post(GENERATIONS, json=body), 400)
    assert "images[1]" in error["message"]


def test_bare_base64_inputs_are_read(api: httpx.Client) -> None:
    bare = base64.b64encode(png((200, 200), MAGENTA)).decode("ascii")
    body = {"model": SINGLE, "prompt": "x", "image": bare, "response_format": "b64_json"}
    response = api.post(GENERATIONS, json=body)
    assert response.status_code == 200, response.text
    encoded = response.json()["data"][0]["b64_json"]
    image = decode(base64.b64decode(encoded.partition(",")[2]))
    assert count_colour(image, MAGENTA) > 500


def test_answer_has_the_providers_shape(api: httpx.Client) -> None:
    response = api.post(GENERATIONS, json={"model": TEXT, "prompt": "x", "n": 3})
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert set(body) == {"created", "data", "usage"}
    assert body["usage"] == {"input_tokens_details": {}}
    assert len(body["data"]) == 3 and all(set(item) == {"url"} for item in body["data"])


def test_auth_when_a_key_is_required() -> None:
    with MockServer(time_scale=0, api_key="sesame") as server:
        url = f"{server.url}/v1/models"
        missing = error_of(httpx.get(url), 401)
        assert missing["code"] == "auth_error" and missing["type"] == "invalid_request_error"
        wrong = error_of(httpx.get(url, headers={"authorization": "Bearer nope"}), 401)
        assert wrong["code"] == "auth_error"
        assert httpx.get(url, headers={"Authorization": "bearer sesame"}).status_code == 200


def test_unknown_routes_and_methods_answer_in_the_openai_shape(api: httpx.Client) -> None:
    error = error_of(api.post("/v1/images/variations", json={}), 404)
    assert "/v1/images/variations" in error["message"]
    response = api.get(GENERATIONS)
    error = error_of(response, 405)
    assert "POST" in response.headers["allow"]
    assert error["type"] == "invalid_request_error"


def test_unknown_model_id_is_a_404(api: httpx.Client) -> None:
    error = error_of(api.get("/v1/models/black-forest-labs/flux-dev"), 404)
    assert error["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (408, "timeout", "timeout"),
        (429, "rate_limit", "rate_limit_error"),
        (500, "internal_error", "internal_error"),
        (504, "gateway_timeout_error", "timeout"),
    ],
)
def test_injected_errors_follow_the_providers_table(
    api: httpx.Client, status: int, code: str, error_type: str
) -> None:
    headers = {"x-mock-fail-status": str(status), "x-mock-retry-after-ms": "1500", "x-mock-should-retry": "true"}
    response = api.post(GENERATIONS, json={"model": TEXT, "prompt": "x"}, headers=headers)
    error = error_of(response, status)
    assert (error["code"], error["type"]) == (code, error_type)
    assert response.headers["retry-after-ms"] == "1500"
    assert response.headers["retry-after"] == "2"
    assert response.headers["x-should-retry"] == "true"


def test_injected_errors_stop_after_the_given_attempts(api: httpx.Client) -> None:
    headers = {"x-mock-fail-status": "503", "x-mock-fail-times": "2"}
    body = {"model": TEXT, "prompt": "x"}
    for attempt, expected in (("0", 503), ("1", 503), ("2", 200)):
        response = api.post(GENERATIONS, json=body, headers={**headers, "x-stainless-retry-count": attempt})
        assert response.status_code == expected


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"x-mock-fail-status": "418"}, "x-mock-fail-status"),
        ({"x-mock-fail-status": "429", "x-mock-fail-times": "0"}, "x-mock-fail-times"),
        ({"x-mock-fail-status": "429", "x-mock-should-retry": "maybe"}, "x-mock-should-retry"),
    ],
)
def test_bad_fault_headers_are_named(api: httpx.Client, headers: dict[str, str], field: str) -> None:
    error = error_of(api.post(GENERATIONS, json={"model": TEXT, "prompt": "x"}, headers=headers), 400)
    assert f"{field}: " in error["message"]


def test_fal_routes_keep_their_own_shape(api: httpx.Client) -> None:
    response = api.post("/fal-ai/flux-pro/kontext/max", json={})
    assert response.status_code == 422
    assert "detail" in response.json()
    assert "x-request-id" not in response.headers


def test_too_many_files_is_a_400() -> None:
    with MockServer(time_scale=0, max_upload_files=2) as server:
        image = png((8, 8), MAGENTA)
        files = [("image[]", (f"{i}.png", image, "image/png")) for i in range(3)]
        error = error_of(httpx.post(f"{server.url}{EDITS}", data={"prompt": "x"}, files=files), 400)
        assert "too many files" in error["message"].lower()


def test_the_answer_waits_for_the_simulated_run(mock: MockServer, clock: ManualClock) -> None:
    # The API is synchronous: the answer comes once the job has run, by the injected clock.
    answers: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{mock.url}{GENERATIONS}", json={"model": TEXT, "prompt": "x"}, timeout=30)
        )
    )
    worker.start()
    assert not _finished(worker, answers)  # no time has passed: still waiting
    clock.advance(60)
    worker.join(timeout=30)
    assert answers and answers[0].status_code == 200
    assert answers[0].json()["created"] == int(clock.now() - 60)


def _finished(worker: threading.Thread, answers: list[httpx.Response]) -> bool:
    worker.join(timeout=0.3)
    return bool(answers)


def test_a_crash_in_the_mock_is_a_500_in_the_openai_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(operation: Any, ctx: Any) -> Any:
        async def endpoint(request: Any) -> Any:
            raise RuntimeError("boom")

        return endpoint

    monkeypatch.setitem(app_module.HANDLERS, "openai.list_models", broken)
    with MockServer(time_scale=0) as server:
        error = error_of(httpx.get(f"{server.url}/v1/models"), 500)
    assert (error["type"], error["code"]) == ("internal_error", "internal_error")
    assert "boom" not in error["message"]
