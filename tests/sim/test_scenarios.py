"""Scenario rules: the admin API, matching, scoping, and the effects on jobs and time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer
from tests.faults_helpers import TEST_ID, TEXT, add_rule, rules

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
BODY = {"prompt": "a lighthouse", "seed": 1}


@pytest.fixture
def client(mock: MockServer, test_id: str) -> Iterator[httpx.Client]:
    """Talks to ``mock`` (a ManualClock server) as this test."""
    with httpx.Client(base_url=mock.url, headers={TEST_ID: test_id}, timeout=10) as http:
        yield http


def submit(http: httpx.Client, body: dict[str, Any] = BODY, **kwargs: Any) -> dict[str, Any]:
    response = http.post(f"/{TEXT}", json=body, **kwargs)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def state(http: httpx.Client, ticket: dict[str, Any]) -> str:
    status: str = http.get(ticket["status_url"]).json()["status"]
    return status


# ---- the admin API -----------------------------------------------------------


def test_create_list_delete_and_reset(client: httpx.Client, mock: MockServer, test_id: str) -> None:
    created = client.post("/_mock/scenarios", json={"id": "one", "effect": {"type": "drop"}})
    assert created.status_code == 201
    assert created.json()["id"] == "one" and created.json()["test_id"] == test_id
    client.post("/_mock/scenarios", json={"effect": {"type": "latency", "ms": 1}})
    assert list(rules(mock.url, test_id)) == ["one", "rule-1"]
    assert rules(mock.url, "someone-else") == {}
    assert rules(mock.url) == {}

    assert client.delete("/_mock/scenarios/one").status_code == 204
    missing = client.delete("/_mock/scenarios/one")
    assert missing.status_code == 404 and missing.json()["error_type"] == "rule_not_found"
    assert list(rules(mock.url, test_id)) == ["rule-1"]

    replaced = client.put(
        "/_mock/scenarios", json={"rules": [{"effect": {"type": "step"}}, {"effect": {"type": "drop"}}]}
    )
    assert replaced.status_code == 200 and len(replaced.json()["rules"]) == 2
    assert client.post("/_mock/scenarios/reset").json() == {"rules": []}
    client.post("/_mock/scenarios", json={"effect": {"type": "step"}})
    assert client.delete("/_mock/scenarios").status_code == 204
    assert rules(mock.url, test_id) == {}


@pytest.mark.parametrize(
    ("rule", "loc"),
    [
        ({}, ["body", "effect"]),
        ({"effect": {"type": "error"}}, ["body", "effect", "status"]),
        ({"effect": {"type": "error", "status": 200}}, ["body", "effect", "status"]),
        ({"effect": {"type": "explode"}}, ["body", "effect", "type"]),
        ({"effect": {"type": "drop", "status": 500}}, ["body", "effect", "status"]),
        ({"effect": {"type": "ingress_error", "status": 500}}, ["body", "effect", "status"]),
        ({"effect": {"type": "stuck", "seconds": -1}}, ["body", "effect", "seconds"]),
        ({"effect": {"type": "drop"}, "match": {"prompt": "(unclosed"}}, ["body", "match", "prompt"]),
        (
            {"effect": {"type": "drop"}, "match": {"header": {"name": "x", "value": "["}}},
            ["body", "match", "header", "value"],
        ),
        ({"effect": {"type": "drop"}, "match": {"colour": "red"}}, ["body", "match", "colour"]),
        ({"effect": {"type": "drop"}, "match": {"probability": 2}}, ["body", "match", "probability"]),
        ({"effect": {"type": "drop"}, "times": 0}, ["body", "times"]),
        # Words that end up in headers must be header-safe.
        (
            {"effect": {"type": "error", "status": 500, "headers": {"X-A": "a\r\nSet-Cookie: x"}}},
            ["body", "effect", "headers", "X-A"],
        ),
        ({"effect": {"type": "error", "status": 500, "headers": {"bad name": "x"}}}, ["body", "effect", "headers"]),
        ({"effect": {"type": "fail", "error_type": "ünïcode"}}, ["body", "effect", "error_type"]),
        ({"effect": {"type": "timeout", "timeout_type": "a b"}}, ["body", "effect", "timeout_type"]),
    ],
)
def test_bad_rules_are_refused_with_the_field(client: httpx.Client, rule: dict[str, Any], loc: list[Any]) -> None:
    response = client.post("/_mock/scenarios", json=rule)
    assert response.status_code == 422, response.text
    assert loc in [issue["loc"] for issue in response.json()["detail"]]
    assert client.get("/_mock/scenarios").json() == {"rules": []}


def test_duplicate_ids_and_bad_documents(client: httpx.Client) -> None:
    assert client.post("/_mock/scenarios", json={"id": "x", "effect": {"type": "drop"}}).status_code == 201
    assert client.post("/_mock/scenarios", json={"id": "x", "effect": {"type": "drop"}}).status_code == 409
    both = {"rules": [{"id": "y", "effect": {"type": "drop"}}, {"id": "y", "effect": {"type": "step"}}]}
    refused = client.put("/_mock/scenarios", json=both)
    assert refused.status_code == 409
    assert [r["id"] for r in client.get("/_mock/scenarios").json()["rules"]] == ["x"]  # all or nothing
    assert (
        client.post("/_mock/scenarios", content=b"{", headers={"Content-Type": "application/json"}).status_code == 422
    )
    assert client.post("/_mock/scenarios", json=[1, 2]).status_code == 422


def test_admin_routes_are_never_faulted(client: httpx.Client) -> None:
    client.post("/_mock/scenarios", json={"effect": {"type": "error", "status": 500}})
    assert client.get("/_mock/health").status_code == 200
    assert client.get("/_mock/scenarios").status_code == 200
    assert client.post(f"/{TEXT}", json=BODY).status_code == 500


# ---- matching ----------------------------------------------------------------


def test_job_calls_inherit_the_test_of_their_submit(mock: MockServer, client: httpx.Client) -> None:
    add_rule(mock.url, {"match": {"operation": "fal.status"}, "effect": {"type": "error", "status": 403}}, "other")
    ticket = submit(client)
    # A bare client (no header) polling the job is treated as the job's test, not as "other".
    assert httpx.get(ticket["status_url"]).status_code == 202
    other = submit(client, headers={TEST_ID: "other"})
    assert httpx.get(other["status_url"]).status_code == 403


def test_match_on_endpoint_method_header_and_prompt(mock: MockServer, client: httpx.Client, test_id: str) -> None:
    add_rule(
        mock.url,
        {
            "match": {"endpoint": "fal-ai/flux-pro/kontext/max*", "header": {"name": "x-tier", "value": "^free$"}},
            "effect": {"type": "error", "status": 401},
        },
        test_id,
    )
    add_rule(
        mock.url,
        {"match": {"prompt": "(?i)forbidden", "method": "POST"}, "effect": {"type": "error", "status": 403}},
        test_id,
    )
    assert client.post(f"/{TEXT}", json=BODY, headers={"x-tier": "free"}).status_code == 401
    assert client.post(f"/{TEXT}", json=BODY, headers={"x-tier": "paid"}).status_code == 200
    assert (
        client.post("/fal-ai/flux-pro/kontext/text-to-image", json=BODY, headers={"x-tier": "free"}).status_code == 200
    )
    assert client.post(f"/{TEXT}", json={"prompt": "FORBIDDEN fruit"}).status_code == 403
    # The run host names its endpoint in the path; the rule sees the same endpoint id.
    assert client.post(f"/run/{TEXT}", json=BODY, headers={"x-tier": "free"}).status_code == 401


def test_nth_and_times_count_per_test(mock: MockServer, client: httpx.Client) -> None:
    # One global rule; each test counts its own requests.
    add_rule(
        mock.url, {"id": "third", "match": {"method": "POST", "nth": 3}, "effect": {"type": "error", "status": 500}}
    )
    codes = [client.post(f"/{TEXT}", json=BODY).status_code for _ in range(4)]
    other = [httpx.post(f"{mock.url}/{TEXT}", json=BODY, headers={TEST_ID: "b"}).status_code for _ in range(3)]
    assert codes == [200, 200, 500, 200]
    assert other == [200, 200, 500]


def test_probability_is_seeded(test_id: str) -> None:
    rule = {"match": {"probability": 0.5, "seed": 3}, "effect": {"type": "error", "status": 503}}

    def outcomes() -> list[int]:
        with MockServer(time_scale=0) as server, httpx.Client(base_url=server.url, headers={TEST_ID: test_id}) as http:
            add_rule(server.url, rule, test_id)
            return [http.post(f"/{TEXT}", json=BODY).status_code for _ in range(30)]

    first = outcomes()
    assert set(first) == {200, 503}
    assert outcomes() == first


# ---- effects on jobs and time ------------------------------------------------


def test_stuck_in_queue_holds_one_job_without_blocking_others(
    mock: MockServer, client: httpx.Client, clock: ManualClock
) -> None:
    add_rule(
        mock.url, {"match": {"prompt": "stuck"}, "effect": {"type": "stuck", "seconds": 60}}, client.headers[TEST_ID]
    )
    stuck = submit(client, {"prompt": "stuck"})
    free = submit(client, {"prompt": "free"})
    clock.advance(10)
    assert state(client, free) == "COMPLETED"
    assert state(client, stuck) == "IN_QUEUE"
    assert client.get(stuck["status_url"]).json()["queue_position"] == 0
    moved = client.post("/_mock/clock", json={"advance": 55}).json()
    assert moved["offset"] == 55
    assert state(client, stuck) == "IN_PROGRESS"
    clock.advance(10)
    assert state(client, stuck) == "COMPLETED"


def test_stuck_in_progress_runs_longer(mock: MockServer, client: httpx.Client, clock: ManualClock) -> None:
    add_rule(mock.url, {"effect": {"type": "stuck", "state": "IN_PROGRESS", "seconds": 100}}, client.headers[TEST_ID])
    ticket = submit(client)
    clock.advance(50)
    assert state(client, ticket) == "IN_PROGRESS"
    clock.advance(60)
    assert state(client, ticket) == "COMPLETED"


def test_clock_route(mock: MockServer, client: httpx.Client, clock: ManualClock) -> None:
    ticket = submit(client)
    before = client.get("/_mock/clock").json()
    assert before == {"now": clock.now(), "offset": 0, "step_mode": False}
    assert state(client, ticket) == "IN_QUEUE"
    assert client.post("/_mock/clock", json={"advance": 30}).json()["now"] == clock.now() + 30
    assert state(client, ticket) == "COMPLETED"
    assert client.post("/_mock/clock", json={"advance": -1}).status_code == 422
    assert client.post("/_mock/clock", json={}).status_code == 422


def test_server_wide_step_mode() -> None:
    with MockServer(clock=ManualClock(), step_mode=True) as server, httpx.Client(base_url=server.url) as http:
        ticket = submit(http)
        walk = [http.get(ticket["status_url"]) for _ in range(3)]
        assert [(r.status_code, r.json()["status"]) for r in walk] == [
            (202, "IN_QUEUE"),
            (202, "IN_PROGRESS"),
            (200, "COMPLETED"),
        ]
        assert http.get(ticket["response_url"]).status_code == 200
        # The synchronous run host has nobody polling: it steps on its own.
        assert http.post(f"/run/{TEXT}", json=BODY).json()["images"]


def test_step_mode_respects_a_stuck_job(mock: MockServer, client: httpx.Client) -> None:
    add_rule(mock.url, {"effect": {"type": "step"}}, client.headers[TEST_ID])
    add_rule(mock.url, {"effect": {"type": "stuck", "seconds": 5}}, client.headers[TEST_ID])
    ticket = submit(client)
    assert [state(client, ticket) for _ in range(3)] == ["IN_QUEUE"] * 3
    client.post("/_mock/clock", json={"advance": 5})
    assert [state(client, ticket) for _ in range(3)] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


def test_cancel_at_the_instant_of_completion(mock: MockServer, client: httpx.Client, clock: ManualClock) -> None:
    # Two jobs; one is cancelled a hair before its end, the other exactly at it.
    early, late = submit(client), submit(client)
    clock.advance(1)  # both on a worker by now (concurrency 2), so their ends are known
    assert state(client, early) == "IN_PROGRESS"
    job = mock.context.queue.find("fal-ai/flux-pro", early["request_id"])
    assert job is not None and job.finished_at is not None
    clock.advance(job.finished_at - clock.now() - 0.001)
    assert client.put(early["cancel_url"]).json() == {"status": "CANCELLATION_REQUESTED"}
    clock.advance(0.001)
    assert client.get(early["response_url"]).json()["error_type"] == "request_cancelled"
    assert client.put(late["cancel_url"]).status_code == 400  # both ended together
    assert client.get(late["response_url"]).status_code == 200


def test_latency_holds_the_answer(mock: MockServer, client: httpx.Client) -> None:
    add_rule(
        mock.url,
        {"match": {"operation": "fal.submit"}, "effect": {"type": "latency", "ms": 5000}},
        client.headers[TEST_ID],
    )
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"/{TEXT}", json=BODY, timeout=0.3)
    assert httpx.post(f"{mock.url}/{TEXT}", json=BODY, timeout=0.3).status_code == 200  # other tests are not slowed


def test_slow_stream(mock: MockServer, client: httpx.Client) -> None:
    add_rule(mock.url, {"effect": {"type": "slow_stream", "interval_ms": 5000}}, client.headers[TEST_ID])
    ticket = submit(client)
    with (
        pytest.raises(httpx.ReadTimeout),
        client.stream("GET", ticket["status_url"] + "/stream", timeout=0.3) as events,
    ):
        for _ in events.iter_lines():
            pass
    other = submit(client, headers={TEST_ID: "fast"})
    with client.stream("GET", other["status_url"] + "/stream", headers={TEST_ID: "fast"}, timeout=2) as events:
        assert next(line for line in events.iter_lines() if line.startswith("data:"))


def test_corrupt_error_answers_too(mock: MockServer, client: httpx.Client) -> None:
    add_rule(mock.url, {"effect": {"type": "corrupt_body", "mode": "truncated"}}, client.headers[TEST_ID])
    response = client.post(f"/{TEXT}", json={"num_images": 1})  # invalid: a 422, corrupted
    assert response.status_code == 422
    assert response.content and '{"detail":[{"loc":["body","prompt"]'.startswith(response.text[:20])
    with pytest.raises(ValueError):
        response.json()


def test_failing_model_fixture(test_id: str) -> None:
    with (
        MockServer(time_scale=0, scenarios_path=FIXTURES / "failing-model.yaml") as server,
        httpx.Client(base_url=server.url, headers={TEST_ID: test_id}) as http,
    ):
        ticket = submit(http, {"prompt": "an nsfw picture"})
        status = http.get(ticket["status_url"]).json()
        assert (status["status"], status["error_type"]) == ("COMPLETED", "content_policy_violation")
        result = http.get(ticket["response_url"])
        assert result.status_code == 422
        assert result.json()["error_type"] == "content_policy_violation"
        assert http.get(submit(http, {"prompt": "please crash"})["response_url"]).status_code == 500


def test_rule_count_is_capped(mock: MockServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mockserver.sim.scenarios.MAX_RULES", 3)
    assert client.put("/_mock/scenarios", json={"rules": [{"effect": {"type": "drop"}}] * 3}).status_code == 200
    refused = client.post("/_mock/scenarios", json={"effect": {"type": "drop"}})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "value_error.too_many_rules"
    assert client.put("/_mock/scenarios", json={"rules": [{"effect": {"type": "step"}}] * 4}).status_code == 422
    assert len(client.get("/_mock/scenarios").json()["rules"]) == 3


def test_generated_ids_avoid_chosen_ones(client: httpx.Client) -> None:
    client.post("/_mock/scenarios", json={"id": "rule-1", "effect": {"type": "drop"}})
    generated = client.post("/_mock/scenarios", json={"effect": {"type": "drop"}}).json()["id"]
    assert generated != "rule-1"
