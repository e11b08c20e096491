"""What the recorder does with a slow upstream and with input it cannot make sense of: answer, never fall over."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.cassette.reader import read_cassette
from mockserver.testing import MockServer, RecordingProxy
from tests.helpers import TEXT


@pytest.fixture
def upstream() -> Iterator[MockServer]:
    with MockServer(time_scale=0) as server:
        yield server


def test_an_upstream_slower_than_the_timeout_is_a_502_not_written(upstream: MockServer, tmp_path: Path) -> None:
    rule = {"match": {"operation": "fal.submit"}, "effect": {"type": "latency", "ms": 3000}}
    assert httpx.post(f"{upstream.url}/_mock/scenarios", json=rule).status_code == 201
    quick = httpx.Timeout(5.0, read=0.2)
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c", timeout=quick) as rec:
        slow = httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "too slow"}, timeout=10)
        assert slow.status_code == 502
        assert slow.json()["detail"].startswith(f"upstream {upstream.url} unreachable: ReadTimeout")
        assert httpx.get(f"{rec.url}/fal-ai/flux-pro/requests/nope/status", timeout=10).status_code == 404
    assert [ex.status for ex in read_cassette(tmp_path / "c").exchanges] == [404]


def test_bodies_and_paths_it_cannot_parse_go_through_as_they_are(upstream: MockServer, tmp_path: Path) -> None:
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c") as rec, httpx.Client(timeout=10) as http:
        headers = {"Content-Type": "application/json"}
        broken = http.post(f"{rec.url}/{TEXT}", content=b'{"prompt": "cut sh', headers=headers)
        deep = http.post(f"{rec.url}/{TEXT}", content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
        odd = http.get(f"{rec.url}/fal-ai/flux-pro/requests/%ZZ%00/status")
        for answer in (broken, deep, odd):
            assert 400 <= answer.status_code < 500, answer.text
        host, port = rec.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:  # a body announced, never sent
            raw.sendall(f"POST /{TEXT} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\n{{".encode())
        assert http.post(f"{rec.url}/{TEXT}", json={"prompt": "still here"}).status_code == 200
    recorded = read_cassette(tmp_path / "c").exchanges
    assert recorded[0].request.body == b'{"prompt": "cut sh'  # forwarded and kept as it came
    assert recorded[-1].request.json == {"prompt": "still here"}
