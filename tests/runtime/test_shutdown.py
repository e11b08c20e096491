"""Stopping ``flux-mock serve`` while clients hold requests open: a real process, real signals.

Every case leaves something waiting that, left alone, would outlast any
test: a status stream of a job stuck for ten minutes, a synchronous run of
such a job, a scenario latency of ten minutes, a request whose body never
finishes arriving, a webhook to a receiver that never answers, and an input
image on a host that never answers. One signal must stop the server within
two seconds, with nothing on stderr.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

EXIT_WITHIN_SECONDS = 2.0
TEXT = "/fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "/fal-ai/flux-pro/kontext/max"

SCENARIO = """
rules:
  - id: stuck
    match: {prompt: "^stuck"}
    effect: {type: stuck, state: IN_QUEUE, seconds: 600}
  - id: slow
    match: {prompt: "^slow"}
    effect: {type: latency, ms: 600000}
"""


class Silent:
    """A TCP server that accepts connections and never answers: the worst upstream."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_server_outlives_its_test() -> Iterator[None]:
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:  # the test failed before stopping it
            process.kill()
            process.wait(timeout=10)


def _serve(tmp_path: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    scenarios = tmp_path / "hold.yaml"
    scenarios.write_text(SCENARIO)
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--state-dir", str(tmp_path / "state"),
         "--scenarios", str(scenarios), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _started.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, process.stderr.read() if process.stderr else line
    return process, line.split("listening on ")[1].split()[0]


def _stop(process: subprocess.Popen[str], *signals: signal.Signals) -> tuple[float, str]:
    """Send the signals (a moment apart); seconds until the process ended, and its stderr."""
    started = time.monotonic()
    for sig in signals:
        process.send_signal(sig)
        time.sleep(0.05)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running 30 s after {[s.name for s in signals]}; stderr: {stderr}")
    return time.monotonic() - started, stderr


def _submit(url: str, prompt: str, **extra: object) -> str:
    answer = httpx.post(url + TEXT, json={"prompt": prompt, **extra}, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["request_id"])


def _in_thread(work: object) -> dict[str, object]:
    """Run ``work()`` in the background; what it returned or raised lands in the dict."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()  # type: ignore[operator]
        except Exception as exc:  # the server going away is one expected ending
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def _wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the held request never arrived"
        time.sleep(0.02)


def _wait_for_matches(url: str, expected: dict[str, int], timeout: float = 10.0) -> None:
    """Until the rules have matched these many requests: each held request has reached its wait."""
    deadline = time.monotonic() + timeout
    while (seen := _matched(url)) != expected:
        assert time.monotonic() < deadline, f"the held requests never all arrived: matched {seen}"
        time.sleep(0.02)


def _matched(url: str) -> dict[str, int]:
    """Requests each rule has matched: a held request has reached the app once its rule matched it."""
    rules = httpx.get(url + "/_mock/scenarios", timeout=10).json()["rules"]
    return {rule["id"]: rule["matched"] for rule in rules}


def _read_all(url: str, body: dict[str, str]) -> str:
    with httpx.stream("POST", url, json=body, timeout=60) as answer:
        return "".join(answer.iter_text())


def _open_stream(url: str, request_id: str) -> tuple[dict[str, object], list[str]]:
    """A status stream read in the background, once its first event has arrived."""
    events: list[str] = []

    def read() -> None:
        with httpx.stream("GET", f"{url}/fal-ai/flux-pro/requests/{request_id}/status/stream", timeout=60) as r:
            events.extend(r.iter_lines())

    reader = _in_thread(read)
    _wait_until(lambda: any(e.startswith("data:") for e in events))
    return reader, events


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_ends_an_open_status_stream_and_exits_quietly(tmp_path: Path, sig: signal.Signals) -> None:
    process, url = _serve(tmp_path)
    reader, events = _open_stream(url, _submit(url, "stuck in the queue"))
    seconds, stderr = _stop(process, sig)
    assert seconds < EXIT_WITHIN_SECONDS and process.returncode == 0, (seconds, process.returncode)
    assert stderr == ""
    reader["thread"].join(5)  # type: ignore[attr-defined]
    assert "value" in reader, reader  # the stream ended as a stream does, not as a broken connection
    assert json.loads(events[0].removeprefix("data: "))["status"] == "IN_QUEUE"


@pytest.mark.slow
def test_every_kind_of_held_request_ends_on_the_first_sigint(tmp_path: Path, silent: Silent) -> None:
    process, url = _serve(tmp_path, "--fetch-inputs-from", f"127.0.0.1:{silent.port}")
    stream, _ = _open_stream(url, _submit(url, "stuck with a stream"))
    # A webhook whose job ends, to a receiver that never answers.
    hook = httpx.post(
        f"{url}{TEXT}?fal_webhook=http://127.0.0.1:{silent.port}/hook", json={"prompt": "done soon"}, timeout=10
    )
    assert hook.status_code == 200
    v1_body = {"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": "stuck here too"}
    fetch_body = {"prompt": "p", "image_url": f"http://127.0.0.1:{silent.port}/in.png"}
    held = {
        "stream": stream,
        "run": _in_thread(lambda: httpx.post(f"{url}/run{TEXT}", json={"prompt": "stuck on the run host"}, timeout=60)),
        "latency": _in_thread(lambda: httpx.post(url + TEXT, json={"prompt": "slow to answer"}, timeout=60)),
        "fetch": _in_thread(lambda: httpx.post(url + EDIT, json=fetch_body, timeout=60)),
        "/v1": _in_thread(lambda: httpx.post(f"{url}/v1/images/generations", json=v1_body, timeout=60)),
        "run stream": _in_thread(lambda: _read_all(f"{url}/run{TEXT}/stream", {"prompt": "stuck on a stream"})),
    }
    # A body that never finishes arriving.
    half = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    half.sendall(
        f"POST {TEXT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        'Content-Length: 1000\r\n\r\n{"prompt": '.encode()
    )
    # The stuck rule has matched the submit, the run, /v1 and the run stream; the latency rule its request.
    _wait_for_matches(url, {"stuck": 4, "slow": 1})
    _wait_until(lambda: len(silent.accepted) >= 2)  # the webhook and the fetch both wait on it
    seconds, stderr = _stop(process, signal.SIGINT)
    half.close()
    assert seconds < EXIT_WITHIN_SECONDS and process.returncode == 0, (seconds, process.returncode, stderr)
    assert stderr == ""
    for outcome in held.values():
        outcome["thread"].join(5)  # type: ignore[attr-defined]
    # Waits for a job or a fetch are told why they end; the stream ends as a stream does;
    # the latency (not yet in the endpoint) ends with its connection.
    for name in ("run", "/v1", "fetch"):
        answer = held[name].get("value")
        assert isinstance(answer, httpx.Response) and answer.status_code == 503, (name, held[name])
        assert "shutting down" in answer.text
    assert "error" not in held["stream"] and held["stream"].get("value") is None
    # A run stream says so in its last event, which a client would otherwise take for the output.
    last_event = str(held["run stream"].get("value")).strip().split("\n\n")[-1]
    assert last_event.startswith("event: error") and "server_stopping" in last_event, held["run stream"]
    assert isinstance(held["latency"].get("error"), httpx.HTTPError), held["latency"]


def test_a_second_sigint_is_as_quiet_as_the_first(tmp_path: Path) -> None:
    process, url = _serve(tmp_path)
    _open_stream(url, _submit(url, "stuck again"))
    _in_thread(lambda: httpx.post(url + TEXT, json={"prompt": "slow again"}, timeout=60))
    _wait_for_matches(url, {"stuck": 1, "slow": 1})
    seconds, stderr = _stop(process, signal.SIGINT, signal.SIGINT)
    assert seconds < EXIT_WITHIN_SECONDS and process.returncode == 0, (seconds, process.returncode)
    assert stderr == ""
