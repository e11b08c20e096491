"""The queue lifecycle's codes are the spec's ``x-contract``: read at load, checked for shape, answered by."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.spec.contract import WebhookSchedule
from mockserver.spec.documents import SpecError
from mockserver.spec.loader import Spec
from mockserver.testing import MockServer
from tests.helpers import specs_with

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"




def test_the_shipped_contract_is_read_whole() -> None:
    contract = Spec.load().queue_contract("fal")
    assert contract.status_codes == {"IN_QUEUE": 202, "IN_PROGRESS": 202, "COMPLETED": 200}
    assert (contract.result_pending, contract.result_final, contract.unknown_request) == (400, 200, 404)
    assert contract.cancel_outcomes[contract.cancel_unknown] == 404
    assert contract.webhook_schedule == WebhookSchedule(attempts=10, retry_window_seconds=7200.0)
    assert set(contract.webhook) == {"event", "success", "keys", "max_age_seconds", "payload_error"}


def test_the_mock_answers_with_the_codes_the_contract_gives(tmp_path: Path) -> None:
    old, new = "result_codes: {pending: 400, final: 200}", "result_codes: {pending: 409, final: 203}"
    paths = specs_with(tmp_path, old, new)
    clock = ManualClock()
    with MockServer(clock=clock, spec_paths=paths) as mock, httpx.Client(base_url=mock.url) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "a fox"}).json()
        assert http.get(ticket["response_url"]).status_code == 409
        clock.advance(60)
        assert http.get(ticket["response_url"]).status_code == 203


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("status_codes: {IN_QUEUE: 202, IN_PROGRESS: 202, COMPLETED: 200}",
         "status_codes: {IN_QUEUE: 202, COMPLETED: 200}", "status_codes must give a code for every state"),
        ("unknown_request: 404", "unknown_request: lost", "unknown_request must be an HTTP status code, not 'lost'"),
        ("cancel_unknown: NOT_FOUND", "cancel_unknown: GONE", "cancel_unknown 'GONE' is not one of cancel_outcomes"),
        ("attempts: 10", "attempts: ten", "webhook.attempts must be a whole number >= 1, not 'ten'"),
        ("attempts: 10", "attempts: 0", "webhook.attempts must be a whole number >= 1, not 0"),
        ("retry_window_seconds: 7200", "retry_window_seconds: -1",
         "webhook.retry_window_seconds must be a number of seconds >= 0, not -1"),
        ("retry_window_seconds: 7200", "", "webhook must give attempts and retry_window_seconds together"),
    ],
)
def test_a_malformed_contract_stops_start_up(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(SpecError, match=rf"fal-kontext\.yaml: x-contract: {message}"):
        MockServer(spec_paths=specs_with(tmp_path, old, new))


def test_a_contract_without_a_cancel_outcome_the_queue_has_stops_start_up(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "ALREADY_COMPLETED: 400, ", "")
    with pytest.raises(SpecError, match="x-contract gives no status code for ALREADY_COMPLETED"):
        MockServer(spec_paths=paths)
