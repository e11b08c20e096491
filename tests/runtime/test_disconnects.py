"""Clients that leave mid-request, ten thousand times: the server keeps nothing of them.

A real ``flux-mock serve`` process; raw sockets that hang up in the middle
of a submit body, of an upload, and of a status stream. Afterwards its open
file descriptors are back where they were, its memory has not grown with
the count, and it still answers. (Linux only: read from ``/proc``.)
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

if not Path("/proc/self/fd").is_dir():
    pytest.skip("reads a process's memory and descriptors from /proc", allow_module_level=True)

DISCONNECTS = 10_000
WARM_UP = 1_500  # the allocator's pools and the journal's ring fill first
# A leak of 1 KiB per disconnect would be ~8 MiB over the measured part; noise is well under 3.
RSS_GROWTH_LIMIT = 3 * 2**20
TEXT = "/fal-ai/flux-pro/kontext/max/text-to-image"
STUCK = "rules:\n  - id: stuck\n    effect: {type: stuck, state: IN_QUEUE, seconds: 86400}\n"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[str], str]]:
    state = tmp_path_factory.mktemp("disconnects")
    (state / "stuck.yaml").write_text(STUCK)
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--state-dir", str(state),
         "--scenarios", str(state / "stuck.yaml"), "--journal-max-entries", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line
    yield process, line.split("listening on ")[1].split()[0]
    process.terminate()
    _, stderr = process.communicate(timeout=20)
    assert "Traceback" not in stderr, stderr  # nothing it met was an error of its own


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _leaver(url: str, request_id: str) -> Callable[[int], None]:
    """A function that opens a connection, starts the i-th kind of request and hangs up."""
    address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
    heads = [
        # mid-body: a submit whose JSON stops halfway
        f"POST {TEXT} HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
        '{"prompt": "half a bod',
        # mid-upload: a CDN upload that sends a tenth of what it announced
        "POST /files/upload HTTP/1.1\r\nHost: m\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
        + "x" * 10_000,
        # mid-stream: a status stream left after its first event
        f"GET /fal-ai/flux-pro/requests/{request_id}/status/stream HTTP/1.1\r\nHost: m\r\n\r\n",
    ]
    encoded = [h.encode() for h in heads]

    def leave(i: int) -> None:
        kind = i % len(encoded)
        with socket.create_connection(address, timeout=10) as conn:
            conn.sendall(encoded[kind])
            if kind == 2:
                seen = b""
                while b"data:" not in seen:  # the stream has begun
                    chunk = conn.recv(65536)
                    assert chunk, seen
                    seen += chunk
            # Hang up at once: a reset, not a polite close, for the worst case.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    return leave


def _settled(pid: int, fds: int, timeout: float = 20.0) -> int:
    """Descriptors once the server has noticed every hang-up (or the count when time ran out)."""
    deadline = time.monotonic() + timeout
    while (now := _fds(pid)) > fds and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_ten_thousand_hang_ups_leave_nothing_behind(mock: tuple[subprocess.Popen[str], str]) -> None:
    process, url = mock
    submitted = httpx.post(url + TEXT, json={"prompt": "held in the queue"}, timeout=10)
    request_id = json.loads(submitted.text)["request_id"]
    leave = _leaver(url, request_id)
    for i in range(WARM_UP):
        leave(i)
    fds_before = _settled(process.pid, _fds(process.pid))
    rss_before = _rss(process.pid)
    for i in range(WARM_UP, DISCONNECTS):
        leave(i)
    fds_after = _settled(process.pid, fds_before)
    rss_after = _rss(process.pid)
    assert fds_after <= fds_before, (fds_before, fds_after)
    assert rss_after - rss_before < RSS_GROWTH_LIMIT, (rss_before, rss_after)
    # Still serving, and the held job is as it was.
    status = httpx.get(f"{url}/fal-ai/flux-pro/requests/{request_id}/status", timeout=10)
    assert status.status_code == 202 and status.json()["status"] == "IN_QUEUE"
    upload = httpx.post(url + "/files/upload", content=b"whole", headers={"Content-Type": "text/plain"}, timeout=10)
    assert upload.status_code == 200 and httpx.get(upload.json()["access_url"], timeout=10).content == b"whole"
