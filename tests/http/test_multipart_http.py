"""Multipart uploads over HTTP, the calls made as each fal client makes them, and their refusals."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer

KB = 1024


@pytest.fixture
def small() -> Iterator[MockServer]:
    """Limits small enough to reach in a test: 1 MiB per upload, 1.5 MiB of disk."""
    with MockServer(time_scale=0, max_upload_bytes=1024 * KB, max_disk_bytes=1536 * KB, upload_spool_bytes=0) as mock:
        yield mock


def python_start(base: str, name: str = "big.bin", content_type: str = "application/octet-stream") -> dict[str, Any]:
    """fal-client's MultipartUpload.create: POST on the CDN, no body, the file's type and name as headers."""
    answer = httpx.post(
        f"{base}/files/upload/multipart",
        headers={"Authorization": "Bearer cdn-token", "Content-Type": content_type, "X-Fal-File-Name": name},
    )
    assert answer.status_code == 200, answer.text
    started: dict[str, Any] = answer.json()
    return started


def put_part(access_url: str, upload_id: str, number: int, data: bytes) -> httpx.Response:
    return httpx.put(
        f"{access_url}/multipart/{upload_id}/{number}",
        content=data,
        headers={"Content-Type": "application/octet-stream", "Accept-Encoding": "identity"},
    )


def complete(access_url: str, upload_id: str, parts: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{access_url}/multipart/{upload_id}/complete", json={"parts": parts})


def disk_files(mock: MockServer) -> list[str]:
    directory = mock.context.queue.files.disk.directory
    return os.listdir(directory) if directory else []


def test_the_python_clients_calls_round_trip(instant: MockServer) -> None:
    started = python_start(instant.url, "clip one.mp4", "video/mp4")
    access_url, upload_id = started["access_url"], started["uploadId"]
    assert access_url.startswith(f"{instant.url}/files/") and access_url.endswith("/clip_one.mp4")
    assert httpx.get(access_url).status_code == 404  # nothing there before the completion
    chunks = [os.urandom(100 * KB) for _ in range(3)]
    parts = []
    for number in (2, 3, 1):  # the client's threads finish in any order, and it lists them so
        answer = put_part(access_url, upload_id, number, chunks[number - 1])
        assert answer.status_code == 200
        assert answer.headers["etag"] == answer.json()["etag"] and answer.json()["partNumber"] == number
        parts.append({"partNumber": number, "etag": answer.headers["etag"]})
    done = complete(access_url, upload_id, parts)
    assert done.status_code == 200
    assert done.json() == {
        "access_url": access_url, "content_type": "video/mp4", "file_name": "clip_one.mp4", "file_size": 300 * KB,
    }
    fetched = httpx.get(access_url)
    assert fetched.content == b"".join(chunks)
    assert fetched.headers["content-type"] == "video/mp4" and fetched.headers["etag"].endswith('-3"')
    assert complete(access_url, upload_id, parts).json() == done.json()  # a retried completion
    again = put_part(access_url, upload_id, 4, b"late")
    assert again.status_code == 400 and again.json()["error_type"] == "upload_completed"


def test_the_js_clients_calls_round_trip(instant: MockServer) -> None:
    # As @fal-ai/client's multipartUpload: initiate on the REST host (through its proxy, or not), then
    # PUT each part to {upload_url}/{n} with no Content-Type, read partNumber and etag from the JSON,
    # and POST them to {upload_url}/complete.
    started = httpx.post(
        f"{instant.url}/storage/upload/initiate-multipart?storage_type=fal-cdn-v3",
        json={"content_type": "image/png", "file_name": "big.png"},
    )
    assert started.status_code == 200
    upload_url, file_url = started.json()["upload_url"], started.json()["file_url"]
    assert upload_url.startswith(file_url + "/multipart/")
    chunks = [b"\x89PNG" + os.urandom(50 * KB), os.urandom(10 * KB)]
    answers = [httpx.put(f"{upload_url}/{n}", content=chunk).json() for n, chunk in enumerate(chunks, 1)]
    parts = [{"partNumber": a["partNumber"], "etag": a["etag"]} for a in answers]
    done = httpx.post(f"{upload_url}/complete", json={"parts": parts}, headers={"Content-Type": "application/json"})
    assert done.status_code == 200 and done.json()["access_url"] == file_url
    fetched = httpx.get(file_url)
    assert fetched.content == b"".join(chunks) and fetched.headers["content-type"] == "image/png"


def test_a_missing_part_is_a_400_that_names_it_and_can_be_sent_after(instant: MockServer) -> None:
    started = python_start(instant.url)
    access_url, upload_id = started["access_url"], started["uploadId"]
    etags = {n: put_part(access_url, upload_id, n, bytes([n]) * KB).headers["etag"] for n in (1, 3)}
    listed = [{"partNumber": n, "etag": etags.get(n, '"never"')} for n in (1, 2, 3)]
    refused = complete(access_url, upload_id, listed)
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Part 2 was never uploaded: upload it, then complete again", "error_type": "invalid_parts",
    }
    assert httpx.get(access_url).status_code == 404 and len(instant.context.queue.files) == 0
    gapped = complete(access_url, upload_id, [listed[0], listed[2]])
    assert gapped.status_code == 400 and "Part 2 is missing from the list" in gapped.json()["detail"]
    listed[1]["etag"] = put_part(access_url, upload_id, 2, b"\x02" * KB).headers["etag"]
    assert complete(access_url, upload_id, listed).status_code == 200
    assert httpx.get(access_url).content == b"\x01" * KB + b"\x02" * KB + b"\x03" * KB


def test_an_unknown_upload_is_a_404(instant: MockServer) -> None:
    started = python_start(instant.url)
    access_url = started["access_url"]
    for answer in (
        put_part(access_url, "no-such-upload", 1, b"x"),
        complete(access_url, "no-such-upload", [{"partNumber": 1, "etag": '"x"'}]),
        # a real upload id under another file's URL
        put_part(f"{instant.url}/files/{'0' * 24}/big.bin", started["uploadId"], 1, b"x"),
    ):
        assert answer.status_code == 404 and answer.json()["error_type"] == "upload_not_found"
    assert instant.context.queue.files.disk.used == 0


@pytest.mark.parametrize("number", ["0", "10001", "-1", "1.5", "one"])
def test_a_part_number_out_of_range_is_a_422(instant: MockServer, number: str) -> None:
    started = python_start(instant.url)
    answer = httpx.put(f"{started['access_url']}/multipart/{started['uploadId']}/{number}", content=b"x")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["path", "part_number"]


def test_an_empty_part_is_a_400(instant: MockServer) -> None:
    started = python_start(instant.url)
    answer = put_part(started["access_url"], started["uploadId"], 1, b"")
    assert answer.status_code == 400 and answer.json()["error_type"] == "empty_upload"


@pytest.mark.parametrize("body", [{}, {"parts": []}, {"parts": [{"partNumber": 1}]}, {"parts": [{"etag": "x"}]}])
def test_a_completion_that_is_not_a_list_of_parts_is_a_422(instant: MockServer, body: object) -> None:
    started = python_start(instant.url)
    answer = httpx.post(f"{started['access_url']}/multipart/{started['uploadId']}/complete", json=body)
    assert answer.status_code == 422


def test_an_unfinished_upload_expires_on_the_clock(mock: MockServer, clock: ManualClock) -> None:
    started = python_start(mock.url)
    access_url, upload_id = started["access_url"], started["uploadId"]
    etag = put_part(access_url, upload_id, 1, b"p" * KB).headers["etag"]
    assert mock.context.queue.files.disk.used == KB and len(disk_files(mock)) == 1
    clock.advance(mock.context.queue.retention.seconds)
    assert put_part(access_url, upload_id, 2, b"q").status_code == 404
    assert complete(access_url, upload_id, [{"partNumber": 1, "etag": etag}]).status_code == 404
    assert mock.context.queue.files.disk.used == 0 and disk_files(mock) == []


def test_parts_past_the_upload_limit_are_a_413_and_nothing_of_them_is_kept(small: MockServer) -> None:
    started = python_start(small.url)
    access_url, upload_id = started["access_url"], started["uploadId"]
    assert put_part(access_url, upload_id, 1, b"a" * 700 * KB).status_code == 200
    over = put_part(access_url, upload_id, 2, b"b" * 400 * KB)  # 1100 KiB together
    assert over.status_code == 413 and over.json()["error_type"] == "payload_too_large"
    assert small.context.queue.files.disk.used == 700 * KB and len(disk_files(small)) == 1


def test_unfinished_uploads_that_fill_the_disk_are_a_507(small: MockServer) -> None:
    first = python_start(small.url)
    assert put_part(first["access_url"], first["uploadId"], 1, b"a" * 1024 * KB).status_code == 200
    second = python_start(small.url)
    full = put_part(second["access_url"], second["uploadId"], 1, b"b" * 1024 * KB)
    assert full.status_code == 507 and full.json()["error_type"] == "insufficient_storage"
    assert small.context.queue.files.disk.used == 1024 * KB and len(disk_files(small)) == 1


def test_a_completed_upload_counts_against_the_store_and_is_evicted_like_any_file(small: MockServer) -> None:
    urls = []
    for n in range(2):
        started = python_start(small.url, f"f{n}.bin")
        etag = put_part(started["access_url"], started["uploadId"], 1, bytes([n]) * 1000 * KB).headers["etag"]
        listed = [{"partNumber": 1, "etag": etag}]
        assert complete(started["access_url"], started["uploadId"], listed).status_code == 200
        urls.append(started["access_url"])
    assert httpx.get(urls[0]).status_code == 404  # made room for the second: deleted
    assert httpx.get(urls[1]).content == b"\x01" * 1000 * KB
    assert len(disk_files(small)) == 1 and small.context.queue.files.disk.used == 1000 * KB


def test_other_methods_on_the_upload_paths_are_405s(instant: MockServer) -> None:
    started = python_start(instant.url)
    base = f"{started['access_url']}/multipart/{started['uploadId']}"
    on_complete = httpx.put(f"{base}/complete", content=b"x")  # fits the part route's template too
    assert on_complete.status_code == 405 and on_complete.headers["allow"] == "POST"
    on_start = httpx.get(f"{instant.url}/files/upload/multipart")  # fits the file route's too
    assert on_start.status_code == 405 and on_start.headers["allow"] == "POST"
    assert httpx.post(f"{base}/1", content=b"x").headers["allow"] == "PUT"
