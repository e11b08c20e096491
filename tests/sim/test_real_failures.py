"""What really happens on fal, as scenario effects and ready-made files: flagged outputs, runner
retries, an account that runs dry. Over HTTP, on a clock moved by hand."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.sim.scenarios import bundled_scenarios
from mockserver.testing import MockServer
from tests.helpers import TEXT, decode

EXHAUSTED = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."


@pytest.fixture
def server(clock: ManualClock) -> Iterator[tuple[MockServer, httpx.Client]]:
    with MockServer(clock=clock, concurrency=2) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        yield mock, http


def _result(http: httpx.Client, clock: ManualClock, **body: object) -> httpx.Response:
    ticket = http.post(f"/{TEXT}", json={"prompt": "p", **body}).json()
    clock.advance(120)
    return http.get(ticket["response_url"])


def test_a_flagged_output_is_black_and_says_so(server: tuple[MockServer, httpx.Client], clock: ManualClock) -> None:
    _, http = server
    http.post("/_mock/scenarios", json={"match": {"prompt": "(?i)nude"}, "effect": {"type": "flag"}})
    flagged = _result(http, clock, prompt="a nude statue", num_images=2, output_format="png").json()
    assert flagged["has_nsfw_concepts"] == [True, True]
    for image in flagged["images"]:
        picture = decode(http.get(image["url"]).content)
        assert (picture.size, picture.format) == ((image["width"], image["height"]), "PNG")
        assert picture.convert("RGB").getextrema() == ((0, 0), (0, 0), (0, 0))  # every pixel black
    clean = _result(http, clock, prompt="a marble statue").json()
    assert clean["has_nsfw_concepts"] == [False]
    assert decode(http.get(clean["images"][0]["url"]).content).convert("RGB").getextrema() != ((0, 0),) * 3


def test_the_safety_tolerance_decides_what_is_flagged(clock: ManualClock) -> None:
    path = bundled_scenarios()["flagged-output"]
    with MockServer(clock=clock, scenarios_path=path) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:

        def flagged(prompt: str, tolerance: str | None = None) -> bool:
            extra = {"safety_tolerance": tolerance} if tolerance else {}
            return bool(_result(http, clock, prompt=prompt, **extra).json()["has_nsfw_concepts"][0])

        # The default tolerance (the spec's) is strict enough for nudity, not for violence.
        assert flagged("一个裸体雕像") and flagged("a naked statue", "1") and not flagged("a naked statue", "5")
        assert not flagged("a weapon") and flagged("a weapon", "1")


def test_a_failed_runner_sends_the_request_back_to_the_queue(
    server: tuple[MockServer, httpx.Client], clock: ManualClock
) -> None:
    _, http = server
    http.post("/_mock/scenarios", json={"effect": {"type": "requeue", "times": 2}})
    ticket = http.post(f"/{TEXT}", json={"prompt": "p"}).json()
    seen: list[str] = []
    for _ in range(200):
        body = http.get(ticket["status_url"]).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
            if body["status"] == "IN_QUEUE" and len(seen) > 1:
                assert body["queue_position"] == 0
        if body["status"] == "COMPLETED":
            break
        clock.advance(0.25)
    assert seen == ["IN_QUEUE", "IN_PROGRESS", "IN_QUEUE", "IN_PROGRESS", "IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    logs = http.get(ticket["status_url"], params={"logs": 1}).json()["logs"]
    assert sum("re-queued" in line["message"] for line in logs) == 2
    assert http.get(ticket["response_url"]).status_code == 200


def test_after_lets_the_first_matches_through(server: tuple[MockServer, httpx.Client]) -> None:
    _, http = server
    http.post("/_mock/scenarios", json={"match": {"after": 2}, "effect": {"type": "error", "status": 503}})
    codes = [http.post(f"/{TEXT}", json={"prompt": "p"}).status_code for _ in range(4)]
    assert codes == [200, 200, 503, 503]


def test_the_exhausted_balance_scenario_refuses_after_two_jobs(clock: ManualClock) -> None:
    path = bundled_scenarios()["exhausted-balance"]
    with MockServer(clock=clock, scenarios_path=path) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        answers = [http.post(f"/{TEXT}", json={"prompt": "p"}) for _ in range(2)]
        assert [a.status_code for a in answers] == [200] * 2
        for path_ in (f"/{TEXT}", f"/run/{TEXT}"):
            refused = http.post(path_, json={"prompt": "p"})
            assert (refused.status_code, refused.json()) == (403, {"detail": EXHAUSTED})
        # Status and results of the accepted ones are not refused.
        assert http.get(answers[0].json()["status_url"]).status_code in (200, 202)


def test_a_cancel_during_the_retries_ends_them(server: tuple[MockServer, httpx.Client], clock: ManualClock) -> None:
    mock, http = server
    http.post("/_mock/scenarios", json={"effect": {"type": "requeue", "times": 3}})
    ticket = http.post(f"/{TEXT}", json={"prompt": "p"}).json()
    ran = False
    for _ in range(200):  # to the first wait for a new runner, after the first attempt ran
        clock.advance(0.1)
        state = http.get(ticket["status_url"]).json()["status"]
        ran = ran or state == "IN_PROGRESS"
        if ran and state == "IN_QUEUE":
            break
    assert http.put(ticket["cancel_url"]).status_code == 202
    clock.advance(600)
    status = http.get(ticket["status_url"]).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "request_cancelled")
    job = mock.context.queue.find("fal-ai/flux-pro", ticket["request_id"])
    assert job is not None and job.attempts_failed(clock.now()) == 1
    assert job.gateway_request_id(clock.now()) == job.gateway_ids[0]  # the attempt that ran, not a later one
