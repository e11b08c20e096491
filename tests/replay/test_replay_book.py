"""The replay book on its own: links made local by upstream prefix and stored file, matching, order."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mockserver.cassette.reader import Cassette, Exchange, Message, StoredFile
from mockserver.cassette.writer import Upstream
from mockserver.sim.clock import ManualClock
from mockserver.sim.replay_book import ReplayBook, canonical

BASE = "http://127.0.0.1:9999"
FILE = StoredFile("/cdn/files/a/out.png", "https://v3.cdn.example/files/a/out.png?token=[redacted]", "image/png", b"P")
UPSTREAMS = (Upstream("", "https://queue.example"), Upstream("/run", "https://run.example/"))


def exchange(seq: int, request: Any, answer: Any, *, operation: str = "submit", path: str = "/m") -> Exchange:
    def message(value: Any, headers: dict[str, str]) -> Message:
        return Message(headers, b"" if value is None else json.dumps(value).encode(), value)

    return Exchange(
        seq=seq, at=float(seq), operation=operation, method="POST", path=path, url="https://queue.example" + path,
        request=message(request, {"content-type": "application/json"}),
        status=200, response=message(answer, {"content-type": "application/json", "content-length": "9",
                                              "location": "https://run.example/x"}),
    )


def book(*exchanges: Exchange) -> ReplayBook:
    cassette = Cassette(Path("."), UPSTREAMS, exchanges, {FILE.local_path: FILE})
    return ReplayBook(cassette, {"submit": frozenset({"seed"})})


def test_links_lead_to_the_replaying_server_at_each_upstream_s_prefix() -> None:
    links = {
        "queue": "https://queue.example/fal-ai/x/requests/1",
        "run": "https://run.example/fal-ai/x",
        "file": FILE.source,
        "other host": "https://queue.example.org/y",
        "other port": "https://queue.example:8443/y",
    }
    answer = book(exchange(1, {"prompt": "p"}, links)).answer("POST", "submit", "/m", {"prompt": "p"}, BASE)
    assert answer is not None
    assert json.loads(answer.body) == {
        "queue": BASE + "/fal-ai/x/requests/1",
        "run": BASE + "/run/fal-ai/x",
        "file": BASE + "/cdn/files/a/out.png",
        "other host": "https://queue.example.org/y",
        "other port": "https://queue.example:8443/y",
    }
    assert answer.headers == {"content-type": "application/json", "location": BASE + "/run/x"}


def test_recordings_are_served_in_order_the_last_one_repeating() -> None:
    replays = book(exchange(1, {"prompt": "p"}, {"n": 1}), exchange(2, {"prompt": "q"}, {"n": 0}),
                   exchange(3, {"prompt": "p"}, {"n": 2}))
    served = [replays.answer("POST", "submit", "/m?x=1", {"prompt": "p"}, BASE) for _ in range(3)]
    assert [a.seq if a else None for a in served] == [1, 3, 3]
    assert replays.answer("POST", "submit", "/other", {"prompt": "p"}, BASE) is None
    assert replays.answer("POST", "status", "/m", {"prompt": "p"}, BASE) is None
    assert replays.answer("PUT", "submit", "/m", {"prompt": "p"}, BASE) is None


def test_a_seed_counts_only_when_the_request_sends_one() -> None:
    replays = book(exchange(1, {"prompt": "p", "seed": 3}, {}))
    assert replays.answer("POST", "submit", "/m", {"prompt": "p", "seed": 4}, BASE) is None
    assert replays.answer("POST", "submit", "/m", {"prompt": "p", "seed": 3}, BASE) is not None
    assert replays.answer("POST", "submit", "/m", {"prompt": "p"}, BASE) is not None


def test_links_are_alike_and_json_kinds_are_not() -> None:
    assert canonical({"u": ["https://a.example/x.png"]}) == canonical({"u": ["data:image/png;base64,AAAA"]})
    assert canonical({"u": "HTTP://A.EXAMPLE"}) == canonical({"u": "http://b.example"})
    assert canonical({"u": "ftp://a.example"}) != canonical({"u": "http://a.example"})
    assert canonical(True) != canonical(1) and canonical(None) != canonical(0)
    assert canonical({"a": 1, "b": [1, 2]}) == canonical({"b": [1, 2], "a": 1.0})
    assert canonical([1, 2]) != canonical([2, 1])


def test_with_a_time_scale_a_recording_waits_for_its_time() -> None:
    def timed(seq: int, at: float, path: str, answer: Any) -> Exchange:
        ex = exchange(seq, None, answer, operation="status" if seq > 1 else "submit", path=path)
        response = Message({**ex.response.headers, "x-fal-request-id": "r1"}, ex.response.body, answer)
        return replace(ex, at=at, method="GET" if seq > 1 else "POST", response=response)

    clock = ManualClock()
    cassette = Cassette(Path("."), UPSTREAMS, (timed(1, 10.0, "/m", {"n": 0}), timed(2, 11.0, "/s", {"n": 1}),
                                              timed(3, 13.0, "/s", {"n": 2})), {})
    replays = ReplayBook(cassette, id_headers=frozenset({"x-fal-request-id"}), clock=clock, time_scale=2)

    def poll() -> int | None:
        answer = replays.answer("GET", "status", "/s", None, BASE)
        return answer.seq if answer else None

    assert replays.answer("POST", "submit", "/m", None, BASE) is not None  # the request's time starts here
    assert [poll(), poll()] == [2, 2]  # the first poll's answer at once; the next is due (13 - 10) x 2 s later
    clock.advance(5.9)
    assert poll() == 2
    clock.advance(0.1)
    assert [poll(), poll()] == [3, 3]
