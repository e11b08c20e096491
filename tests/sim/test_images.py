"""What the images look like, over HTTP: sizes, formats, seeds, inputs, files."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.spec.loader import default_spec
from mockserver.testing import MockServer
from tests.helpers import EDIT, MAGENTA, MULTI, TEXT, data_uri, decode, share_of_colour

MODEL = default_spec().model(TEXT)
assert MODEL is not None and MODEL.model is not None
SIZES = MODEL.model.sizes


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(time_scale=0) as mock:
        yield mock


def run(server: MockServer, endpoint: str, **body: object) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/run/{endpoint}", json={"prompt": "test", **body}, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def truncated_png() -> str:
    whole = base64.b64decode(data_uri((300, 300)).split(",", 1)[1])
    return "data:image/png;base64," + base64.b64encode(whole[: len(whole) // 2]).decode()


def fetch(url: str) -> bytes:
    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    response = httpx.get(url)
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize("ratio", sorted(SIZES))
def test_each_aspect_ratio_has_its_exact_size(server: MockServer, ratio: str) -> None:
    image = run(server, TEXT, aspect_ratio=ratio)["images"][0]
    assert (image["width"], image["height"]) == SIZES[ratio]
    assert decode(fetch(image["url"])).size == SIZES[ratio]


def test_text_to_image_defaults_to_square(server: MockServer) -> None:
    image = run(server, TEXT)["images"][0]
    assert (image["width"], image["height"]) == (1024, 1024)


@pytest.mark.parametrize(
    ("input_size", "expected_ratio"),
    [((800, 600), "4:3"), ((600, 800), "3:4"), ((1920, 1080), "16:9"), ((500, 500), "1:1"), ((2100, 900), "21:9")],
)
def test_an_edit_without_aspect_ratio_follows_its_input(
    server: MockServer, input_size: tuple[int, int], expected_ratio: str
) -> None:
    image = run(server, EDIT, image_url=data_uri(input_size))["images"][0]
    assert (image["width"], image["height"]) == SIZES[expected_ratio]


def test_an_explicit_aspect_ratio_wins_over_the_input(server: MockServer) -> None:
    image = run(server, EDIT, image_url=data_uri((800, 600)), aspect_ratio="9:16")["images"][0]
    assert (image["width"], image["height"]) == SIZES["9:16"]


@pytest.mark.parametrize(("fmt", "pil", "mime"), [("jpeg", "JPEG", "image/jpeg"), ("png", "PNG", "image/png")])
def test_output_format_sets_the_encoding_and_content_type(server: MockServer, fmt: str, pil: str, mime: str) -> None:
    image = run(server, TEXT, output_format=fmt)["images"][0]
    assert image["content_type"] == mime
    response = httpx.get(image["url"])
    assert response.headers["content-type"] == mime
    assert decode(response.content).format == pil
    assert image["file_size"] == len(response.content)


def test_num_images_gives_distinct_images(server: MockServer) -> None:
    images = run(server, TEXT, num_images=4, seed=1)["images"]
    blobs = [fetch(i["url"]) for i in images]
    assert len(blobs) == 4 and len(set(blobs)) == 4


def test_the_same_seed_gives_byte_identical_files(server: MockServer) -> None:
    first = run(server, EDIT, image_url=data_uri(), seed=1234, num_images=2)
    second = run(server, EDIT, image_url=data_uri(), seed=1234, num_images=2)
    assert first["images"] != second["images"]  # different files (URLs) ...
    assert [fetch(i["url"]) for i in first["images"]] == [fetch(i["url"]) for i in second["images"]]
    other = run(server, EDIT, image_url=data_uri(), seed=1235)
    assert fetch(other["images"][0]["url"]) != fetch(first["images"][0]["url"])


def test_without_a_seed_one_is_chosen_and_returned(server: MockServer) -> None:
    seeds = {run(server, TEXT)["seed"] for _ in range(3)}
    assert len(seeds) == 3 and all(isinstance(s, int) and s >= 0 for s in seeds)


def test_the_returned_seed_reproduces_the_image(server: MockServer) -> None:
    first = run(server, TEXT, prompt="again")
    second = run(server, TEXT, prompt="again", seed=first["seed"])
    assert fetch(first["images"][0]["url"]) == fetch(second["images"][0]["url"])


def test_an_input_image_visibly_appears_in_the_edit(server: MockServer) -> None:
    edited = decode(fetch(run(server, EDIT, image_url=data_uri((400, 300), MAGENTA), seed=3)["images"][0]["url"]))
    plain = decode(fetch(run(server, TEXT, seed=3, aspect_ratio="4:3")["images"][0]["url"]))
    assert share_of_colour(edited, MAGENTA) > 0.03
    assert share_of_colour(plain, MAGENTA) < 0.005


def test_every_input_of_a_multi_edit_appears(server: MockServer) -> None:
    colors = [(255, 0, 255), (0, 255, 255)]
    result = run(server, MULTI, image_urls=[data_uri((200, 200), c, "JPEG") for c in colors], seed=9)
    picture = decode(fetch(result["images"][0]["url"]))
    for color in colors:
        assert share_of_colour(picture, color) > 0.01, color


def test_a_file_served_by_the_mock_can_be_an_input(server: MockServer) -> None:
    source = run(server, EDIT, image_url=data_uri((640, 480), MAGENTA), seed=5)["images"][0]["url"]
    edited = run(server, EDIT, image_url=source, seed=6)
    picture = decode(fetch(edited["images"][0]["url"]))
    assert (picture.width, picture.height) == SIZES["4:3"]
    assert share_of_colour(picture, MAGENTA) > 0.01


def test_a_remote_input_is_not_fetched_and_the_edit_still_completes(server: MockServer) -> None:
    image = run(server, EDIT, image_url="https://v3.fal.media/files/rabbit/x.png")["images"][0]
    assert (image["width"], image["height"]) == (1024, 1024)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("data:image/png;base64,bm90IGFuIGltYWdl", "cannot load image"),
        ("data:text/plain;base64,aGVsbG8=", "not an image"),
        ("data:image/png;base64,", "empty"),
        (truncated_png(), "cannot load image"),
    ],
)
def test_an_unreadable_input_fails_the_job_with_a_422(server: MockServer, url: str, reason: str) -> None:
    submitted = httpx.post(f"{server.url}/{MULTI}", json={"prompt": "p", "image_urls": [data_uri(), url]}).json()
    status = httpx.get(submitted["status_url"]).json()
    assert status["status"] == "COMPLETED" and status["error_type"] == "image_load_error"
    result = httpx.get(submitted["response_url"])
    assert result.status_code == 422
    issue = result.json()["detail"][0]
    assert issue["loc"] == ["body", "image_urls", 1]
    assert reason in issue["msg"]
    assert " at 0x" not in result.text and "BytesIO" not in result.text  # no Python object in the words


def test_sync_mode_returns_data_uris_and_stores_nothing(server: MockServer) -> None:
    before = len(server.context.queue.files)
    image = run(server, TEXT, sync_mode=True, output_format="png")["images"][0]
    assert image["url"].startswith("data:image/png;base64,")
    assert decode(fetch(image["url"])).size == (1024, 1024)
    assert len(server.context.queue.files) == before


def test_files_have_caching_headers_and_answer_conditional_requests(server: MockServer) -> None:
    url = run(server, TEXT)["images"][0]["url"]
    response = httpx.get(url)
    assert "immutable" in response.headers["cache-control"] and "max-age=" in response.headers["cache-control"]
    etag = response.headers["etag"]
    again = httpx.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert httpx.head(url).status_code == 200


@pytest.mark.parametrize(
    "path", ["/files/0123456789abcdef01234567/x.jpg", "/files/..%2F..%2Fetc/passwd", "/files/%00/%00", "/files/a/b/c"]
)
def test_unknown_files_are_404(server: MockServer, path: str) -> None:
    response = httpx.get(server.url + path)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_a_file_is_found_only_under_its_own_name(server: MockServer) -> None:
    url = run(server, TEXT)["images"][0]["url"]
    assert httpx.get(url.rsplit("/", 1)[0] + "/other.jpg").status_code == 404


def test_status_polls_render_nothing_and_results_render_once() -> None:
    with MockServer(time_scale=0) as mock:
        ticket = httpx.post(f"{mock.url}/{TEXT}", json={"prompt": "p", "num_images": 2}).json()
        for _ in range(5):
            assert httpx.get(ticket["status_url"], params={"logs": "1"}).status_code == 200
        assert len(mock.context.queue.files) == 0  # completed, polled, and still nothing rendered
        first = httpx.get(ticket["response_url"]).json()
        second = httpx.get(ticket["response_url"]).json()
        assert first == second  # the same stored files, not a second rendering
        assert len(mock.context.queue.files) == 2
