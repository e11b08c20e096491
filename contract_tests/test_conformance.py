"""The server conformance suite: ``pytest --pyargs contract_tests --target URL``.

Tests are generated from fixtures/requests/*.yaml; each failure names the
endpoint, the request and the rule (see contract_tests/report.py).
"""

from __future__ import annotations

import pytest

from contract_tests.cases import Case, load_cases
from contract_tests.fal_flow import FalFlow
from mockserver.testing import Spec


def _flow(flows: dict[str, FalFlow], case: Case) -> FalFlow:
    if case.api not in flows:
        pytest.skip(f"no conformance flow for the {case.api!r} API yet")
    return flows[case.api]


def test_valid_request_completes(contract_flows: dict[str, FalFlow], contract_valid_case: Case) -> None:
    _flow(contract_flows, contract_valid_case).valid(contract_valid_case).raise_if_any()


def test_invalid_request_rejected(contract_flows: dict[str, FalFlow], contract_invalid_case: Case) -> None:
    _flow(contract_flows, contract_invalid_case).invalid(contract_invalid_case).raise_if_any()


def test_cancel_semantics(contract_flows: dict[str, FalFlow], contract_cancel_case: Case) -> None:
    _flow(contract_flows, contract_cancel_case).cancel(contract_cancel_case).raise_if_any()


def test_every_model_endpoint_has_fixtures(contract_spec: Spec) -> None:
    cases = load_cases()
    for op in contract_spec.models():
        assert op.model is not None
        kinds = {c.kind for c in cases if c.endpoint == op.model.endpoint_id}
        assert kinds == {"valid", "invalid"}, f"{op.model.endpoint_id} needs valid and invalid request fixtures"
