"""Uploads through the real fal-client: token from the REST host, bytes to the CDN, URL usable as input."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import fal_client
import fal_client.client as fal_module
import httpx
import pytest
from PIL import Image

from mockserver.testing import MockServer, point_fal_client
from tests.helpers import MAGENTA, magenta_pixels

EDIT = "fal-ai/flux-pro/kontext/max"


@pytest.fixture
def fal_mock(instant: MockServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    monkeypatch.setenv("FAL_KEY", "test-key")
    with point_fal_client(instant.url):
        yield instant


def test_upload_file_round_trips_bytes(fal_mock: MockServer, tmp_path: Path) -> None:
    path = tmp_path / "notes for the mock.txt"
    path.write_bytes(b"hello \x00 bytes")
    url = fal_client.upload_file(path)
    assert url.startswith(f"{fal_mock.url}/files/")
    assert url.endswith("/notes_for_the_mock.txt")  # the name, made URL-safe
    fetched = httpx.get(url)
    assert fetched.status_code == 200
    assert fetched.content == b"hello \x00 bytes"
    assert fetched.headers["content-type"].startswith("text/plain")


def test_uploaded_image_appears_in_an_edit(fal_mock: MockServer) -> None:
    url = fal_client.upload_image(Image.new("RGB", (600, 400), MAGENTA), format="png")
    assert url.endswith(".png")
    edited = fal_client.subscribe(EDIT, {"prompt": "frame it", "image_url": url, "seed": 7})
    image = edited["images"][0]
    assert (image["width"], image["height"]) == (1248, 832)  # 3:2, the upload's shape
    with_upload = magenta_pixels(httpx.get(image["url"]).content)

    remote = fal_client.subscribe(EDIT, {"prompt": "frame it", "image_url": "https://example.com/x.png", "seed": 7})
    without = magenta_pixels(httpx.get(remote["images"][0]["url"]).content)
    assert with_upload > 5000
    assert without < with_upload // 10


def test_helper_restores_the_real_hosts(instant: MockServer) -> None:
    def hosts() -> tuple[str, ...]:
        return (fal_module.REST_URL, fal_module.CDN_URL, fal_module.QUEUE_URL_FORMAT, fal_module.RUN_URL_FORMAT)

    before = hosts()
    with point_fal_client(instant.url + "/"):
        pointed = hosts()
    after = hosts()
    assert pointed == (instant.url, instant.url, instant.url + "/", instant.url + "/run/")
    assert after == before
    assert before[:2] == ("https://rest.fal.ai", "https://v3.fal.media")


def test_token_answer_has_what_the_client_reads(instant: MockServer) -> None:
    answer = httpx.post(f"{instant.url}/storage/auth/token?storage_type=fal-cdn-v3", json={})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) >= {"token", "token_type", "base_url", "expires_at"}
    assert body["token_type"] == "Bearer"
    assert body["expires_at"].endswith("+00:00")


def test_token_rejects_unknown_storage_type(instant: MockServer) -> None:
    answer = httpx.post(f"{instant.url}/storage/auth/token?storage_type=s3", json={})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "storage_type"]


def test_token_needs_the_key_when_one_is_set() -> None:
    with MockServer(time_scale=0, api_key="secret") as mock:
        anonymous = httpx.post(f"{mock.url}/storage/auth/token", json={})
        keyed = httpx.post(f"{mock.url}/storage/auth/token", json={}, headers={"Authorization": "Key secret"})
    assert anonymous.status_code == 401
    assert keyed.status_code == 200


def test_empty_upload_is_a_400_and_stores_nothing(instant: MockServer) -> None:
    before = len(instant.context.queue.files)
    answer = httpx.post(f"{instant.url}/files/upload", content=b"", headers={"Content-Type": "image/png"})
    assert answer.status_code == 400
    assert answer.json()["error_type"] == "empty_upload"
    assert len(instant.context.queue.files) == before


@pytest.mark.parametrize(
    ("given", "expected"),
    [("../../etc/passwd", "etc_passwd"), ("", "upload.png"), ("été 2026.png", "t_2026.png"), ("...", "upload.png")],
)
def test_file_names_stay_one_safe_segment(instant: MockServer, given: str, expected: str) -> None:
    answer = httpx.post(
        f"{instant.url}/files/upload",
        content=b"\x89PNG",
        headers={b"Content-Type": b"image/png", b"X-Fal-File-Name": given.encode()},
    )
    assert answer.status_code == 200
    assert answer.json()["file_name"] == expected
    assert httpx.get(answer.json()["access_url"]).content == b"\x89PNG"


def test_two_step_upload_as_fal_client_falls_back_to(fal_mock: MockServer) -> None:
    # repository="fal" is fal-client's fallback path: initiate on the REST host, then PUT the bytes.
    url = fal_client.upload(b"\x89PNG-two-step", "image/png", "two step.png", repository="fal")
    assert url.startswith(f"{fal_mock.url}/files/")
    assert url.endswith("/two_step.png")
    fetched = httpx.get(url)
    assert fetched.content == b"\x89PNG-two-step"
    assert fetched.headers["content-type"] == "image/png"


def test_initiate_then_put_by_hand(instant: MockServer) -> None:
    started = httpx.post(
        f"{instant.url}/storage/upload/initiate?storage_type=fal-cdn-v3",
        json={"content_type": "image/png", "file_name": "a.png"},
    )
    assert started.status_code == 200
    slot = started.json()
    assert httpx.get(slot["file_url"]).status_code == 404  # nothing there before the PUT
    assert httpx.put(slot["upload_url"], content=b"first", headers={"Content-Type": "image/png"}).status_code == 200
    assert httpx.put(slot["upload_url"], content=b"again", headers={"Content-Type": "image/png"}).status_code == 200
    assert httpx.get(slot["file_url"]).content == b"again"  # a retried PUT replaces, never duplicates
    assert len(instant.context.queue.files) == 1


def test_put_to_an_unknown_upload_url_is_a_404(instant: MockServer) -> None:
    answer = httpx.put(f"{instant.url}/files/upload/nope", content=b"x")
    assert answer.status_code == 404
    assert answer.json()["error_type"] == "upload_not_found"


@pytest.mark.parametrize(
    "body",
    [[], {"content_type": 5}, {"file_name": ["a"]}, {"content_type": "x" * 300}],
)
def test_initiate_rejects_bad_bodies(instant: MockServer, body: object) -> None:
    answer = httpx.post(f"{instant.url}/storage/upload/initiate", json=body)
    assert answer.status_code == 422


def test_declared_types_that_are_not_media_types_are_not_echoed(instant: MockServer) -> None:
    started = httpx.post(
        f"{instant.url}/storage/upload/initiate", json={"content_type": "text/html\r\nX-Evil: 1", "file_name": "x"}
    ).json()
    httpx.put(started["upload_url"], content=b"data", headers={"Content-Type": "nonsense"})
    fetched = httpx.get(started["file_url"])
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/octet-stream"
    assert "x-evil" not in fetched.headers


def test_helper_lends_a_key_only_for_its_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_KEY_ID", raising=False)
    with MockServer(time_scale=0, api_key="s3cret") as mock:
        with point_fal_client(mock.url, key="s3cret"):
            url = fal_client.upload(b"keyed", "text/plain", "k.txt")
            result = fal_client.run("fal-ai/flux-pro/kontext/max/text-to-image", {"prompt": "keyed"})
        assert "FAL_KEY" not in os.environ
        with point_fal_client(mock.url, key="wrong"), pytest.raises(fal_client.FalClientHTTPError) as caught:
            fal_client.run("fal-ai/flux-pro/kontext/max/text-to-image", {"prompt": "unkeyed"})
    assert url.endswith("/k.txt")
    assert result["prompt"] == "keyed"
    assert caught.value.status_code == 401
