"""Start deadlines and queue priority, as fal-client sends them, on an injected clock.

``submit(start_timeout=)`` sends ``X-Fal-Request-Timeout``; ``submit(priority=)``
sends ``X-Fal-Queue-Priority``. One worker, so requests really wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import fal_client
import fal_client.client
import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer
from tests.helpers import TEXT


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MockServer, ManualClock]]:
    clock = ManualClock()
    with MockServer(clock=clock, concurrency=1) as server:
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", server.url + "/")
        monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", server.url + "/run/")
        monkeypatch.setenv("FAL_KEY", "k")
        yield server, clock


def _status(handle: fal_client.SyncRequestHandle) -> fal_client.Status:
    return handle.status()


def test_a_request_no_worker_takes_in_time_ends_with_a_504_the_client_does_not_retry(
    one_worker: tuple[MockServer, ManualClock],
) -> None:
    server, clock = one_worker
    busy = fal_client.submit(TEXT, {"prompt": "takes the only worker"})
    late = fal_client.submit(TEXT, {"prompt": "waits too long"}, start_timeout=2)
    clock.advance(1.9)
    assert isinstance(_status(late), fal_client.Queued)
    clock.advance(0.2)
    ended = _status(late)
    assert isinstance(ended, fal_client.Completed)
    assert (ended.error, ended.error_type) == ("Request timed out", "request_timeout")
    assert ended.metrics == {}  # it never ran
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        late.get()
    assert caught.value.status_code == 504
    assert caught.value.response.headers["x-fal-request-timeout-type"] == "user"
    entries = httpx.get(f"{server.url}/_mock/journal").json()["entries"]
    results = [e for e in entries if e["operation"] == "getRequestResult"]
    assert len(results) == 1  # the client honours a deadline of its own making: no retry
    # The worker's job was not disturbed, and nothing waits behind the expired one.
    assert isinstance(_status(busy), fal_client.InProgress)


def test_a_request_taken_before_its_deadline_runs_to_the_end(one_worker: tuple[MockServer, ManualClock]) -> None:
    _, clock = one_worker
    handle = fal_client.submit(TEXT, {"prompt": "in time"}, start_timeout=5)
    clock.advance(1)
    assert isinstance(_status(handle), fal_client.InProgress)
    clock.advance(60)  # far past the deadline: it bounds the start, not the run
    assert handle.get()["images"]


def test_a_deadline_deep_in_the_queue_frees_its_place(one_worker: tuple[MockServer, ManualClock]) -> None:
    _, clock = one_worker
    fal_client.submit(TEXT, {"prompt": "runs"})
    fal_client.submit(TEXT, {"prompt": "next"})
    doomed = fal_client.submit(TEXT, {"prompt": "gives up"}, start_timeout=1.5)
    after = fal_client.submit(TEXT, {"prompt": "behind it"})
    assert httpx.get(after.status_url).json()["queue_position"] == 3  # the first waits for its dispatch too
    clock.advance(1.6)
    assert isinstance(_status(doomed), fal_client.Completed)
    assert httpx.get(after.status_url).json()["queue_position"] == 1


def test_the_newer_header_wins_and_either_name_works(one_worker: tuple[MockServer, ManualClock]) -> None:
    server, clock = one_worker
    fal_client.submit(TEXT, {"prompt": "busy"})
    both = httpx.post(
        server.url + "/" + TEXT, json={"prompt": "both"},
        headers={"X-Fal-Request-Start-Timeout": "1", "X-Fal-Request-Timeout": "100"},
    ).json()
    newer = httpx.post(server.url + "/" + TEXT, json={"prompt": "n"}, headers={"X-Fal-Request-Start-Timeout": "1"})
    clock.advance(1.5)
    for ticket in (both, newer.json()):
        assert httpx.get(ticket["status_url"]).json()["error_type"] == "request_timeout"


def test_the_run_host_answers_the_same_504_when_the_deadline_passes(
    one_worker: tuple[MockServer, ManualClock],
) -> None:
    server, clock = one_worker
    fal_client.submit(TEXT, {"prompt": "busy"})
    outcome: dict[str, httpx.Response] = {}
    call = threading.Thread(target=lambda: outcome.setdefault("r", httpx.post(
        f"{server.url}/run/{TEXT}", json={"prompt": "sync"}, headers={"X-Fal-Request-Timeout": "3"}, timeout=30
    )))
    call.start()
    deadline = threading.Event()
    while len(server.context.queue.jobs) < 2:  # the run's job is queued behind the busy one
        deadline.wait(0.01)
    # The run waits for its job; move the clock on until it answers.
    while call.is_alive():
        clock.advance(1)
        call.join(0.05)
    answer = outcome["r"]
    assert answer.status_code == 504
    assert answer.headers["x-fal-request-timeout-type"] == "user"
    assert answer.json() == {"detail": "Request timed out", "error_type": "request_timeout"}


def test_low_priority_waits_behind_every_normal_request(one_worker: tuple[MockServer, ManualClock]) -> None:
    server, clock = one_worker
    running = fal_client.submit(TEXT, {"prompt": "runs"})
    low = fal_client.submit(TEXT, {"prompt": "can wait"}, priority="low")
    normal = fal_client.submit(TEXT, {"prompt": "came later"})  # fal-client sends no header for normal
    explicit = httpx.post(server.url + "/" + TEXT, json={"prompt": "p"}, headers={"X-Fal-Queue-Priority": "normal"})
    positions = [httpx.get(h).json()["queue_position"] for h in (low.status_url, normal.status_url)]
    assert positions == [3, 1]  # the first request still waits for its dispatch
    assert httpx.get(explicit.json()["status_url"]).json()["queue_position"] == 2
    clock.advance(1)
    assert isinstance(_status(running), fal_client.InProgress)
    running.cancel()  # the worker is free: it takes the first normal request, not the older low one
    assert isinstance(_status(normal), fal_client.InProgress)
    assert httpx.get(explicit.json()["status_url"]).json()["queue_position"] == 0
    assert httpx.get(low.status_url).json()["queue_position"] == 1


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Fal-Queue-Priority", "high"), ("X-Fal-Request-Timeout", "soon"), ("X-Fal-Request-Start-Timeout", "0.1"),
     ("X-Fal-Request-Start-Timeout", "-3"), ("X-Fal-Request-Timeout", "1e9")],
)
def test_a_bad_queue_header_is_a_422_naming_it_and_queues_nothing(
    one_worker: tuple[MockServer, ManualClock], header: str, value: str,
) -> None:
    server, _ = one_worker
    before = len(server.context.queue.jobs)
    answer = httpx.post(server.url + "/" + TEXT, json={"prompt": "p"}, headers={header: value})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["header", header.lower()]
    assert len(server.context.queue.jobs) == before
