"""The contract-test kit for the FLUX.1 Kontext APIs.

- Server conformance: ``pytest --pyargs contract_tests --target URL`` (or
  ``flux-mock conformance --target URL``) checks any server against specs/.
- Client conformance: the ``flux_mock`` pytest fixture and
  :func:`assert_client_conforms` check a client against the mock's journal.
"""

from __future__ import annotations

from contract_tests.mock_fixture import FluxMock, assert_client_conforms
from contract_tests.report import ContractViolation

__all__ = ["ContractViolation", "FluxMock", "assert_client_conforms"]
