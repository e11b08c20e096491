"""The OpenAI-compatible images API, driven by the real ``openai`` package."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types import Image, ImagesResponse

from mockserver.spec.yaml_files import read_yaml
from mockserver.testing import MockServer
from tests.helpers import CYAN, MAGENTA, count_colour, data_uri, decode, png

MULTI = "black-forest-labs/flux-kontext-max/multi"
SINGLE = "black-forest-labs/flux-kontext-max"
TEXT = "black-forest-labs/flux-kontext-max/text-to-image"
SPEC = Path(__file__).resolve().parents[2] / "specs" / "openai-images.yaml"
PREFIX = "data:image/png;base64,"


def client_for(server: MockServer, *, api_key: str = "test-key", max_retries: int = 0) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=max_retries, timeout=30)


@pytest.fixture
def client(instant: MockServer) -> Iterator[OpenAI]:
    with client_for(instant) as c:
        yield c


def images(response: ImagesResponse) -> list[Image]:
    """The response's images (the SDK types ``data`` as optional; an images answer always has it)."""
    assert response.data is not None
    return response.data


def _download(url: str) -> bytes:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    return response.content


def test_generate_multi_returns_urls_of_images_with_the_ratio_size(client: OpenAI) -> None:
    raw = client.images.with_raw_response.generate(
        model=MULTI,
        prompt="Convert to quick pencil sketch",
        extra_body={
            "images": [data_uri((300, 200), MAGENTA), data_uri((64, 64), CYAN)],
            "aspect_ratio": "16:9",
        },
    )
    assert raw.headers["x-request-id"].startswith("req_")
    result = raw.parse()
    assert len(images(result)) == 1
    assert images(result)[0].b64_json is None
    image = decode(_download(str(images(result)[0].url)))
    assert image.size == (1392, 752)
    # Both inputs appear in the picture.
    assert count_colour(image, MAGENTA) > 500
    assert count_colour(image, CYAN) > 500


def test_generate_b64_json_carries_the_providers_data_uri_prefix(client: OpenAI) -> None:
    result = client.images.generate(
        model=MULTI,
        prompt="Two of them",
        n=2,
        response_format="b64_json",
        extra_body={"images": [data_uri((200, 300), MAGENTA)], "aspect_ratio": "2:3", "seed": 7},
    )
    assert len(images(result)) == 2
    blobs = []
    for item in images(result):
        assert item.url is None
        assert item.b64_json is not None and item.b64_json.startswith(PREFIX)
        blobs.append(base64.b64decode(item.b64_json[len(PREFIX) :]))
    assert [decode(b).size for b in blobs] == [(832, 1248), (832, 1248)]
    assert blobs[0] != blobs[1]  # each image of the batch is its own picture
    assert result.created > 0


def test_plain_b64_json_when_the_server_asks_for_it() -> None:
    with MockServer(time_scale=0, b64_data_uri=False) as server, client_for(server) as client:
        result = client.images.generate(model=TEXT, prompt="plain", response_format="b64_json")
    encoded = images(result)[0].b64_json
    assert encoded is not None and not encoded.startswith("data:")
    assert decode(base64.b64decode(encoded)).size == (1024, 1024)


def test_same_seed_gives_the_same_picture_and_minus_one_a_random_one(client: OpenAI) -> None:
    def one(seed: int) -> bytes:
        result = client.images.generate(
            model=TEXT, prompt="seeded", response_format="b64_json", extra_body={"seed": seed}
        )
        encoded = images(result)[0].b64_json
        assert encoded is not None
        return base64.b64decode(encoded[len(PREFIX) :])

    assert one(42) == one(42)
    assert one(42) != one(43)
    assert one(-1) != one(-1)


def test_edit_with_one_file_shows_the_upload(client: OpenAI) -> None:
    result = client.images.edit(
        model=SINGLE,
        image=("photo.png", png((400, 300), MAGENTA), "image/png"),
        prompt="Make it a watercolour",
        extra_body={"strength": 0.5, "aspect_ratio": "4:3"},
    )
    image = decode(_download(str(images(result)[0].url)))
    assert image.size == (1184, 880)
    assert count_colour(image, MAGENTA) > 500


def test_edit_without_an_upload_shows_none(client: OpenAI) -> None:
    # The control for the test above: the colour comes from the upload, not the background.
    result = client.images.generate(model=TEXT, prompt="Make it a watercolour", extra_body={"aspect_ratio": "4:3"})
    assert count_colour(decode(_download(str(images(result)[0].url))), MAGENTA) < 50


def test_edit_with_several_files_uses_them_all(client: OpenAI) -> None:
    result = client.images.edit(
        image=[("a.png", png((300, 300), MAGENTA), "image/png"), ("b.png", png((300, 300), CYAN), "image/png")],
        prompt="Seat them on one bench",
        n=2,
        response_format="b64_json",
    )
    assert len(images(result)) == 2
    for item in images(result):
        assert item.b64_json is not None
        image = decode(base64.b64decode(item.b64_json[len(PREFIX) :]))
        assert image.size == (1024, 1024)
        assert count_colour(image, MAGENTA) > 500
        assert count_colour(image, CYAN) > 500


def test_bad_n_is_a_bad_request_naming_the_field(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model=MULTI, prompt="x", n=9, extra_body={"images": [data_uri((8, 8), CYAN)]})
    error = caught.value
    assert error.status_code == 400
    assert error.code == "param_error"
    assert error.type == "invalid_request_error"
    assert "n: ensure this value is less than or equal to 4" in error.message
    assert error.request_id is not None and error.param == error.request_id


def test_missing_images_is_a_bad_request_naming_the_field(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model=MULTI, prompt="no images")
    assert caught.value.code == "param_error"
    assert "images: field required" in caught.value.message


def test_wrong_key_is_an_authentication_error() -> None:
    with MockServer(time_scale=0, api_key="right") as server:
        with client_for(server, api_key="wrong") as client, pytest.raises(openai.AuthenticationError) as caught:
            client.images.generate(model=TEXT, prompt="x")
        assert caught.value.status_code == 401
        assert caught.value.code == "auth_error"
        assert caught.value.request_id is not None
        with client_for(server, api_key="right") as client:
            assert images(client.images.generate(model=TEXT, prompt="x"))[0].url


def test_models_list_names_every_declared_model(client: OpenAI) -> None:
    declared = set(read_yaml(SPEC)["x-mock-models"])
    listed = client.models.list()
    assert {m.id for m in listed.data} == declared == {MULTI, SINGLE, TEXT}
    assert all(m.object == "model" and m.owned_by == "black-forest-labs" for m in listed.data)
    assert client.models.retrieve(SINGLE).id == SINGLE
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("black-forest-labs/flux-dev")


def test_retries_after_rate_limits_then_succeeds(instant: MockServer) -> None:
    headers = {"x-mock-fail-status": "429", "x-mock-fail-times": "2", "x-mock-retry-after-ms": "1"}
    with client_for(instant, max_retries=2) as client:
        raw = client.images.with_raw_response.generate(model=TEXT, prompt="x", extra_headers=headers)
    assert raw.retries_taken == 2
    assert images(raw.parse())[0].url
    with client_for(instant, max_retries=1) as client, pytest.raises(openai.RateLimitError) as caught:
        client.images.generate(model=TEXT, prompt="x", extra_headers=headers)
    assert caught.value.code == "rate_limit"
    assert caught.value.response.headers["retry-after-ms"] == "1"


def test_should_retry_false_stops_the_sdk_from_retrying_a_500(instant: MockServer) -> None:
    # One failing attempt only: had the SDK retried, the second attempt would have succeeded.
    headers = {"x-mock-fail-status": "500", "x-mock-fail-times": "1", "x-mock-should-retry": "false"}
    with client_for(instant, max_retries=3) as client, pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model=TEXT, prompt="x", extra_headers=headers)
    assert caught.value.status_code == 500
    assert caught.value.code == "internal_error"


def test_gateway_timeout_is_an_internal_server_error(client: OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model=TEXT, prompt="x", extra_headers={"x-mock-fail-status": "504"})
    assert caught.value.status_code == 504
    assert caught.value.code == "gateway_timeout_error"
    assert caught.value.type == "timeout"
