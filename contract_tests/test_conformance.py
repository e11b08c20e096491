"""The server conformance suite: ``pytest --pyargs contract_tests --target URL``.

Tests are generated from fixtures/requests/*.yaml; each failure names the
endpoint, the request and the rule (see contract_tests/report.py). Operations
the spec marks ``x-mock-extension`` are checked only with ``--extensions``,
webhook deliveries only with ``--webhooks``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contract_tests.cases import Case, load_cases
from contract_tests.plugin import Flows, is_extension, requires_api
from contract_tests.report import Findings
from contract_tests.response_checks import check_gets
from contract_tests.webhook_receiver import WebhookReceiver
from mockserver.testing import Spec

Verdict = Callable[[Findings], None]


def test_valid_request_completes(contract_flows: Flows, contract_valid_case: Case, contract_verdict: Verdict) -> None:
    flow = contract_flows.fal if contract_valid_case.api == "fal" else contract_flows.openai
    contract_verdict(flow.valid(contract_valid_case))


def test_invalid_request_rejected(
    contract_flows: Flows, contract_invalid_case: Case, contract_verdict: Verdict
) -> None:
    flow = contract_flows.fal if contract_invalid_case.api == "fal" else contract_flows.openai
    contract_verdict(flow.invalid(contract_invalid_case))


def test_cancel_semantics(contract_flows: Flows, contract_cancel_case: Case, contract_verdict: Verdict) -> None:
    contract_verdict(contract_flows.fal.cancel(contract_cancel_case))


def test_run_host_answers_at_once(contract_flows: Flows, contract_run_case: Case, contract_verdict: Verdict) -> None:
    contract_verdict(contract_flows.fal.run(contract_run_case, contract_flows.run_base))


def test_webhook_delivered(
    contract_flows: Flows, contract_webhook_case: Case, contract_webhooks: WebhookReceiver, contract_verdict: Verdict
) -> None:
    contract_verdict(contract_flows.fal.webhook(contract_webhook_case, contract_webhooks))


def test_model_list(request: pytest.FixtureRequest, contract_flows: Flows, contract_verdict: Verdict) -> None:
    requires_api(request, "openai")
    contract_verdict(contract_flows.openai.models())


def test_extension_edit(
    contract_flows: Flows, contract_edit_case: Case, contract_extensions: None, contract_verdict: Verdict
) -> None:
    contract_verdict(contract_flows.openai.edit(contract_edit_case))


def test_extension_routes_answer_as_documented(
    contract_flows: Flows, contract_spec: Spec, contract_extensions: None, contract_verdict: Verdict
) -> None:
    """Every extension GET that needs no parameter and promises a 200 answers it in its documented shape."""
    ops = [
        op for op in contract_spec.operations
        if is_extension(op) and op.method == "GET" and "{" not in op.path and "200" in op.raw.get("responses", {})
        and not any(p.get("required") for p in op.parameters())
    ]
    assert ops, "the spec marks no parameterless GET as an extension"
    fal = contract_flows.fal
    contract_verdict(check_gets(contract_spec, fal.client, fal.base, ops, "the mock's extension routes"))


def test_every_model_endpoint_has_fixtures(contract_spec: Spec) -> None:
    cases = load_cases()
    names = [op.model.endpoint_id for op in contract_spec.models() if op.model] + list(contract_spec.named_models)
    for name in names:
        kinds = {c.kind for c in cases if c.endpoint == name}
        assert kinds == {"valid", "invalid"}, f"{name} needs valid and invalid request fixtures"
