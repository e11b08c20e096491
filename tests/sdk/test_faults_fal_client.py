"""Scenario effects as the real fal-client meets them."""

from __future__ import annotations

import threading
from typing import Any

import fal_client
import httpx
import pytest
from fal_client.client import Completed, FalClientHTTPError, InProgress, Queued

from mockserver.testing import MockServer
from tests.faults_helpers import TEST_ID, TEXT, add_rule, fal_client_for, rules

ARGS = {"prompt": "a lighthouse at dusk", "seed": 7}


def test_429_is_retried_then_succeeds(instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    add_rule(
        instant.url,
        {"id": "limit", "match": {"endpoint": TEXT, "method": "POST"}, "times": 2,
         "effect": {"type": "error", "status": 429, "retry_after": 0}},
        test_id,
    )
    client = fal_client_for(instant.url, monkeypatch)
    result = client.subscribe(TEXT, ARGS, headers={TEST_ID: test_id})
    assert result["images"][0]["url"].startswith(instant.url)
    rule = rules(instant.url, test_id)["limit"]
    assert (rule["matched"], rule["fired"]) == (3, 2)  # two refusals, then the submit that went through


def test_persistent_429_exhausts_the_client_retries(
    instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = {"id": "limit", "match": {"method": "POST"}, "effect": {"type": "error", "status": 429}}
    add_rule(instant.url, rule, test_id)
    client = fal_client_for(instant.url, monkeypatch)
    with pytest.raises(FalClientHTTPError) as caught:
        client.submit(TEXT, ARGS, headers={TEST_ID: test_id})
    assert caught.value.status_code == 429
    assert caught.value.error_type == "rate_limited"
    assert rules(instant.url, test_id)["limit"]["fired"] == fal_client.client.MAX_ATTEMPTS


@pytest.mark.parametrize(("status", "error_type"), [(422, "content_policy_violation"), (500, "model_crashed")])
def test_failing_model_raises_with_its_error_type(
    instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch, status: int, error_type: str
) -> None:
    add_rule(
        instant.url,
        {"match": {"prompt": "(?i)forbidden"},
         "effect": {"type": "fail", "status": status, "error_type": error_type, "message": "the model refused"}},
        test_id,
    )
    client = fal_client_for(instant.url, monkeypatch)
    seen: list[Any] = []
    with pytest.raises(FalClientHTTPError) as caught:
        client.subscribe(
            TEXT, {"prompt": "something Forbidden"}, headers={TEST_ID: test_id}, on_queue_update=seen.append
        )
    assert caught.value.status_code == status
    assert caught.value.error_type == error_type
    assert caught.value.message == "the model refused"
    # The status said COMPLETED, carrying the error: there is no FAILED state.
    assert isinstance(seen[-1], Completed)
    assert (seen[-1].error, seen[-1].error_type) == ("the model refused", error_type)
    # A prompt the rule does not match is untouched.
    assert client.subscribe(TEXT, {"prompt": "a calm lake"}, headers={TEST_ID: test_id})["images"]


def test_ingress_errors_are_retried_but_app_errors_are_not(
    instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_rule(instant.url, {"id": "lb", "times": 2, "effect": {"type": "ingress_error", "status": 502}}, test_id)
    client = fal_client_for(instant.url, monkeypatch)
    assert client.subscribe(TEXT, ARGS, headers={TEST_ID: test_id})["images"]
    assert rules(instant.url, test_id)["lb"]["fired"] == 2

    # The same status from the app itself (JSON, no nginx page) is final.
    add_rule(instant.url, {"id": "app", "effect": {"type": "error", "status": 502}}, test_id)
    with pytest.raises(FalClientHTTPError) as caught:
        client.submit(TEXT, ARGS, headers={TEST_ID: test_id})
    assert caught.value.status_code == 502
    assert rules(instant.url, test_id)["app"]["fired"] == 1


def test_user_timeout_504_is_not_retried(instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    add_rule(instant.url, {"id": "slow", "effect": {"type": "timeout"}}, test_id)
    client = fal_client_for(instant.url, monkeypatch)
    with pytest.raises(FalClientHTTPError) as caught:
        client.submit(TEXT, ARGS, headers={TEST_ID: test_id}, start_timeout=5)
    assert caught.value.status_code == 504
    assert caught.value.error_type == "request_timeout"
    assert caught.value.response_headers["x-fal-request-timeout-type"] == "user"
    assert rules(instant.url, test_id)["slow"]["fired"] == 1


def test_dropped_connection_is_retried(instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rule = {"id": "cut", "match": {"operation": "fal.submit"}, "times": 1, "effect": {"type": "drop"}}
    add_rule(instant.url, rule, test_id)
    client = fal_client_for(instant.url, monkeypatch)
    assert client.subscribe(TEXT, ARGS, headers={TEST_ID: test_id})["images"]
    assert rules(instant.url, test_id)["cut"]["fired"] == 1


@pytest.mark.parametrize("mode", ["truncated", "malformed"])
def test_corrupt_body_breaks_the_client_parse(
    instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    add_rule(instant.url, {"effect": {"type": "corrupt_body", "mode": mode}, "times": 1}, test_id)
    client = fal_client_for(instant.url, monkeypatch)
    with pytest.raises(ValueError):  # json.JSONDecodeError
        client.submit(TEXT, ARGS, headers={TEST_ID: test_id})
    assert client.submit(TEXT, ARGS, headers={TEST_ID: test_id}).request_id  # the rule is spent


def test_cancel_that_loses_the_race_still_yields_a_result(
    mock: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Step mode keeps the job running until polled, so the cancel surely lands first.
    add_rule(mock.url, {"effect": {"type": "step"}}, test_id)
    add_rule(mock.url, {"id": "race", "effect": {"type": "cancel_race"}, "match": {"prompt": "racer"}}, test_id)
    client = fal_client_for(mock.url, monkeypatch)

    racer = client.submit(TEXT, {"prompt": "racer"}, headers={TEST_ID: test_id})
    racer.cancel()  # accepted...
    assert racer.get(interval=0)["images"]  # ...but the job completed anyway
    assert rules(mock.url, test_id)["race"]["fired"] == 1

    control = client.submit(TEXT, {"prompt": "calm"}, headers={TEST_ID: test_id})
    control.cancel()
    with pytest.raises(FalClientHTTPError) as caught:
        control.get(interval=0)
    assert (caught.value.status_code, caught.value.error_type) == (400, "request_cancelled")


def test_step_mode_walks_each_state_one_poll_at_a_time(
    mock: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``mock`` runs on a clock that never moves: only the polls move the job.
    add_rule(mock.url, {"effect": {"type": "step"}}, test_id)
    client = fal_client_for(mock.url, monkeypatch)
    handle = client.submit(TEXT, ARGS, headers={TEST_ID: test_id})
    seen = [handle.status(with_logs=True) for _ in range(4)]
    assert [type(s) for s in seen] == [Queued, InProgress, Completed, Completed]
    assert isinstance(seen[0], Queued) and seen[0].position == 0
    assert handle.get(interval=0)["images"]


def test_concurrent_tests_see_only_their_own_rules(instant: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = fal_client_for(instant.url, monkeypatch)
    add_rule(instant.url, {"effect": {"type": "fail", "status": 500, "error_type": "a_broke"}}, "test-a")
    add_rule(instant.url, {"id": "b-limit", "times": 1, "effect": {"type": "error", "status": 429}}, "test-b")
    start = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def run(test_id: str) -> None:
        start.wait()
        try:
            outcomes[test_id] = client.subscribe(TEXT, ARGS, headers={TEST_ID: test_id})
        except Exception as exc:
            outcomes[test_id] = exc

    threads = [threading.Thread(target=run, args=(t,)) for t in ("test-a", "test-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    failure = outcomes["test-a"]
    assert isinstance(failure, FalClientHTTPError) and failure.error_type == "a_broke"
    assert outcomes["test-b"]["images"]
    assert rules(instant.url, "test-b")["b-limit"]["fired"] == 1
    assert set(rules(instant.url, "test-a")) == {"rule-1"}  # b's rule is not listed for a
    # A request with no test id sees neither rule.
    assert client.subscribe(TEXT, ARGS)["images"]


def test_429_answer_shape(instant: MockServer, test_id: str) -> None:
    add_rule(instant.url, {"effect": {"type": "error", "status": 429, "retry_after": 2.5}}, test_id)
    response = httpx.post(f"{instant.url}/{TEXT}", json=ARGS, headers={TEST_ID: test_id})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"  # whole seconds, rounded up: never earlier than asked
    assert response.headers["retry-after-ms"] == "2500"
    assert response.json() == {
        "detail": "Rate limit exceeded: too many concurrent requests",
        "error_type": "rate_limited",
    }
    assert "x-fal-request-id" not in response.headers
