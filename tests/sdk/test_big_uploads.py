"""Large uploads through the real fal-client: one request up to its threshold, multipart above it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from mockserver.testing import MockServer, point_fal_client

MB = 1000 * 1000
MIB = 1024 * 1024


@pytest.fixture
def fal_mock(instant: MockServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    monkeypatch.setenv("FAL_KEY", "test-key")
    with point_fal_client(instant.url):
        yield instant


def fetched_digest(url: str) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=60) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


def paths_called(mock: MockServer) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in httpx.get(f"{mock.url}/_mock/journal").json()["entries"]]


def test_a_110_mb_upload_goes_in_parts_and_round_trips_byte_for_byte(fal_mock: MockServer) -> None:
    data = os.urandom(110 * MB)
    assert len(data) > fal_module.MULTIPART_THRESHOLD  # the client's own threshold (100 MiB)
    url = fal_client.upload(data, "application/octet-stream", "big.bin")
    assert url.startswith(f"{fal_mock.url}/files/") and url.endswith("/big.bin")
    assert fetched_digest(url) == hashlib.sha256(data).hexdigest()
    called = paths_called(fal_mock)
    parts = [c for c in called if c.startswith("PUT ") and "/multipart/" in c]
    assert len(parts) == -(-len(data) // fal_module.MULTIPART_CHUNK_SIZE) == 11  # 10 MiB parts
    assert any(c.startswith("POST /files/upload/multipart") for c in called)
    assert any(c.endswith("/complete") for c in called)
    stored = fal_mock.context.queue.files.get(url.split("/")[-2])
    assert stored is not None and stored.on_disk and stored.size == len(data)


def test_upload_file_of_a_large_file_goes_in_parts_too(fal_mock: MockServer, tmp_path: Path) -> None:
    path = tmp_path / "large video.mp4"
    data = os.urandom(101 * MIB)
    path.write_bytes(data)
    url = fal_client.upload_file(path)
    assert url.endswith("/large_video.mp4")
    assert fetched_digest(url) == hashlib.sha256(data).hexdigest()
    assert httpx.head(url).headers["content-type"] == "video/mp4"


def test_a_single_request_reaches_the_clients_threshold(fal_mock: MockServer) -> None:
    # Just under 100 MiB the client sends one POST: three times the mock's limit for JSON bodies.
    data = os.urandom(fal_module.MULTIPART_THRESHOLD)
    url = fal_client.upload(data, "application/octet-stream", "one.bin")
    assert fetched_digest(url) == hashlib.sha256(data).hexdigest()
    assert not any("/multipart" in c for c in paths_called(fal_mock))
