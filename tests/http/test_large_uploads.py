"""Single-request uploads: streamed within their own limit, large ones kept on disk and served from it."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from mockserver.testing import MockServer
from tests.faults_helpers import add_rule
from tests.helpers import EDIT, magenta_pixels, png

KB = 1024
MIB = 1024 * KB
PNG = {"Content-Type": "image/png"}


@pytest.fixture
def spooling() -> Iterator[MockServer]:
    """Uploads past 64 KiB go to disk; 1 MiB per upload, 2.5 MiB of disk; JSON bodies capped at 16 KiB."""
    with MockServer(
        time_scale=0, upload_spool_bytes=64 * KB, max_upload_bytes=1024 * KB, max_disk_bytes=2560 * KB,
        max_body_bytes=16 * KB,
    ) as mock:
        yield mock


def disk_files(mock: MockServer) -> list[str]:
    directory = mock.context.queue.files.disk.directory
    return os.listdir(directory) if directory else []


def until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    pause = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        pause.wait(0.01)
    return condition()


def two_step(base: str, data: bytes) -> str:
    slot = httpx.post(f"{base}/storage/upload/initiate", json={"content_type": "image/png", "file_name": "p.png"})
    put = httpx.put(slot.json()["upload_url"], content=data, headers={"Content-Type": "image/png"})
    assert put.status_code == 200, put.text
    file_url: str = slot.json()["file_url"]
    return file_url


def test_uploads_reach_past_the_json_body_limit_and_go_to_disk(spooling: MockServer) -> None:
    data = os.urandom(1024 * KB)  # 64 times the JSON body limit
    single = httpx.post(f"{spooling.url}/files/upload", content=data, headers={"X-Fal-File-Name": "big.bin"})
    assert single.status_code == 200 and single.json()["file_size"] == len(data)
    put_url = two_step(spooling.url, data[::-1])
    assert httpx.get(single.json()["access_url"]).content == data
    assert httpx.get(put_url).content == data[::-1]
    assert len(disk_files(spooling)) == 2 and spooling.context.queue.files.disk.used == 2 * len(data)
    json_body = httpx.post(f"{spooling.url}/{EDIT}", json={"prompt": "x" * 20 * KB, "image_url": "data:,"})
    assert json_body.status_code == 413  # JSON keeps its own, smaller limit


def test_a_small_upload_stays_in_memory(spooling: MockServer) -> None:
    answer = httpx.post(f"{spooling.url}/files/upload", content=b"tiny")
    assert answer.status_code == 200 and disk_files(spooling) == []
    assert httpx.get(answer.json()["access_url"]).content == b"tiny"


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
def test_an_upload_over_the_limit_is_a_413_and_nothing_is_stored(spooling: MockServer, declared: bool) -> None:
    data = b"x" * (1024 * KB + 1)

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused once the bytes pass the limit
        for start in range(0, len(data), 64 * KB):
            yield data[start : start + 64 * KB]

    for method, url in (("POST", f"{spooling.url}/files/upload"), ("PUT", two_step_slot(spooling.url))):
        answer = httpx.request(method, url, content=data if declared else chunks())
        assert answer.status_code == 413 and answer.json()["error_type"] == "payload_too_large"
    assert len(spooling.context.queue.files) == 0
    assert until(lambda: spooling.context.queue.files.disk.used == 0 and disk_files(spooling) == [])


def two_step_slot(base: str) -> str:
    slot = httpx.post(f"{base}/storage/upload/initiate", json={"file_name": "p.bin"})
    upload_url: str = slot.json()["upload_url"]
    return upload_url


@pytest.mark.parametrize("route", ["single", "two-step", "part"])
def test_a_client_leaving_mid_upload_leaves_nothing_behind(spooling: MockServer, route: str) -> None:
    if route == "single":
        path = "/files/upload"
        method = "POST"
    elif route == "two-step":
        path, method = urlsplit(two_step_slot(spooling.url)).path, "PUT"
    else:
        started = httpx.post(f"{spooling.url}/files/upload/multipart").json()
        path, method = urlsplit(f"{started['access_url']}/multipart/{started['uploadId']}/1").path, "PUT"
    url = urlsplit(spooling.url)
    assert url.hostname is not None and url.port is not None
    disk = spooling.context.queue.files.disk
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {1000 * KB}\r\n\r\n"
        sock.sendall(head.encode() + b"y" * 500 * KB)
        assert until(lambda: disk.used > 0)  # the server is writing it to disk
    assert until(lambda: disk.used == 0 and disk_files(spooling) == [])
    assert len(spooling.context.queue.files) == 0
    assert httpx.get(f"{spooling.url}/_mock/health").status_code == 200


def test_the_oldest_upload_on_disk_is_evicted_and_deleted(spooling: MockServer) -> None:
    urls = [
        httpx.post(f"{spooling.url}/files/upload", content=bytes([n]) * 1000 * KB).json()["access_url"]
        for n in range(3)
    ]
    assert httpx.get(urls[0]).status_code == 404  # 3000 KiB do not fit in 2560: the first made room
    assert [httpx.get(u).content[:1] for u in urls[1:]] == [b"\x01", b"\x02"]
    assert len(disk_files(spooling)) == 2 and spooling.context.queue.files.disk.used == 2000 * KB


def test_a_file_on_disk_answers_head_and_conditional_requests(spooling: MockServer) -> None:
    data = os.urandom(300 * KB)
    url = httpx.post(f"{spooling.url}/files/upload", content=data, headers={"Content-Type": "video/mp4"}).json()[
        "access_url"
    ]
    got = httpx.get(url)
    assert got.headers["content-length"] == str(len(data)) and got.headers["content-type"] == "video/mp4"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(data)) and head.headers["etag"] == got.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    # The ETag a file in memory would have had: the digest of its bytes.
    assert got.headers["etag"] == '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'



def test_an_upload_on_disk_works_as_an_input_image() -> None:
    with MockServer(time_scale=0, upload_spool_bytes=0) as mock:  # every upload to disk
        uploaded = httpx.post(f"{mock.url}/files/upload", content=png((600, 400)), headers=PNG)
        url = uploaded.json()["access_url"]
        stored = mock.context.queue.files.get(url.split("/")[-2])
        assert stored is not None and stored.on_disk
        ticket = httpx.post(f"{mock.url}/{EDIT}", json={"prompt": "frame it", "image_url": url})
        result = httpx.get(ticket.json()["response_url"]).json()
        image = result["images"][0]
        assert (image["width"], image["height"]) == (1248, 832)  # 3:2, the upload's shape
        assert magenta_pixels(httpx.get(image["url"]).content) > 5000


def test_an_upload_on_disk_past_the_input_limit_fails_the_job_without_being_read_whole() -> None:
    with MockServer(time_scale=0, upload_spool_bytes=0, max_input_bytes=1000) as mock:
        url = httpx.post(f"{mock.url}/files/upload", content=png((600, 400)), headers=PNG)
        ticket = httpx.post(f"{mock.url}/{EDIT}", json={"prompt": "p", "image_url": url.json()["access_url"]})
        result = httpx.get(ticket.json()["response_url"])
    assert result.status_code == 422 and "exceeds 1000 bytes" in result.json()["detail"][0]["msg"]


@pytest.mark.parametrize("rule", ["elsewhere", "latency"])
def test_an_upload_under_scenario_rules_is_not_held_in_memory(rule: str) -> None:
    # With rules for its test, a request's body passes through a replaying reader (and, for a
    # latency, is read ahead while the rule waits): an upload must go through it, not pile up in it.
    data = os.urandom(24 * MIB)
    with MockServer(time_scale=0, upload_spool_bytes=0) as mock:
        operation = "fal.status" if rule == "elsewhere" else "storage.upload"
        add_rule(mock.url, {"match": {"operation": operation}, "effect": {"type": "latency", "ms": 300}}, "ruled")
        tracemalloc.start()
        try:
            status = raw_upload(mock.url, data, {"X-Mock-Test-Id": "ruled"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert status == 200
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB held while a 24 MiB upload came in"


def raw_upload(base: str, data: bytes, headers: dict[str, str]) -> int:
    """POST /files/upload from a socket, in pieces (an HTTP client would copy the body to send it:
    the memory measured would be the client's); the answer's status."""
    url = urlsplit(base)
    assert url.hostname is not None and url.port is not None
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = f"POST /files/upload HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(data)}\r\n{lines}\r\n"
    view = memoryview(data)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode())
        for start in range(0, len(data), 256 * KB):
            sock.sendall(view[start : start + 256 * KB])
        answer = sock.recv(64 * KB)
    return int(answer.split(b" ", 2)[1])
