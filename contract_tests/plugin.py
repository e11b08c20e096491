"""The pytest plugin (registered through the ``pytest11`` entry point).

Two things for two audiences:

- server conformance: options ``--target``, ``--api-key``, ``--endpoint``,
  ``--poll-interval``, ``--poll-timeout``, ``--contract-spec`` and the
  parametrisation of the tests in this package by the request fixtures;
- client tests: the ``flux_mock`` fixture (one mock per session, the journal
  read per test) and the ``flux_mock`` marker for per-test server options.

Nothing here runs unless asked for: without ``--target`` the conformance tests
skip, and the mock starts only when a test uses ``flux_mock``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract_tests.cases import Case, load_cases
from contract_tests.fal_flow import FalFlow, FlowOptions
from contract_tests.mock_fixture import FluxMock
from mockserver.testing import MockServer, Spec, SpecError

# The flow that drives each API's fixtures; a new API registers its own.
FLOWS = {"fal": FalFlow}
_KINDS = {"contract_valid_case": "valid", "contract_invalid_case": "invalid", "contract_cancel_case": "cancel"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flux-mock contract tests")
    group.addoption("--target", default=None, help="base URL of the server to check for conformance")
    group.addoption("--api-key", default=None, help="sent as 'Authorization: Key <K>' to the target")
    group.addoption("--endpoint", action="append", default=None, help="check only this model endpoint (repeatable)")
    group.addoption("--poll-interval", type=float, default=0.05, help="seconds between status polls (default 0.05)")
    group.addoption("--poll-timeout", type=float, default=120.0, help="give up on a request after this many seconds")
    group.addoption("--contract-spec", action="append", type=Path, default=None, help="spec file(s) to check against")
    group.addoption(
        "--flux-mock-time-scale", type=float, default=0.0,
        help="time scale of the flux_mock fixture's server (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "flux_mock(**settings): start a dedicated mock with these Settings for this test"
    )


def _spec(config: pytest.Config) -> Spec:
    cached = getattr(config, "_flux_contract_spec", None)
    if cached is None:
        cached = Spec.load(config.getoption("contract_spec"))
        config._flux_contract_spec = cached  # type: ignore[attr-defined]
    return cached


def selected_cases(config: pytest.Config, kind: str) -> list[Case]:
    spec = _spec(config)
    wanted = config.getoption("endpoint")
    cases = [c for c in load_cases() if spec.model(c.endpoint) is not None and (not wanted or c.endpoint in wanted)]
    if kind == "cancel":  # one per endpoint: its first valid request
        firsts: dict[str, Case] = {}
        for case in cases:
            if case.kind == "valid":
                firsts.setdefault(case.endpoint, case)
        return list(firsts.values())
    return [c for c in cases if c.kind == kind]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for argname, kind in _KINDS.items():
        if argname in metafunc.fixturenames:
            cases = selected_cases(metafunc.config, kind)
            metafunc.parametrize(argname, cases, ids=[f"{c.endpoint}:{c.name}" for c in cases])


@pytest.fixture
def contract_spec(request: pytest.FixtureRequest) -> Spec:
    return _spec(request.config)


@pytest.fixture
def contract_client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    target = request.config.getoption("target")
    if not target:
        pytest.skip("server conformance needs --target URL")
    headers: dict[str, str] = {}
    # Specs without the mock's admin document name no test id header: nothing to scope by test.
    with contextlib.suppress(SpecError):
        headers[_spec(request.config).test_id_header] = request.node.nodeid
    key = request.config.getoption("api_key")
    if key:
        headers["Authorization"] = f"Key {key}"
    with httpx.Client(headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def contract_flows(
    request: pytest.FixtureRequest, contract_client: httpx.Client, contract_spec: Spec
) -> dict[str, FalFlow]:
    config = request.config
    options = FlowOptions(config.getoption("poll_interval"), config.getoption("poll_timeout"))
    target = str(config.getoption("target"))
    return {api: flow(contract_spec, contract_client, target, options) for api, flow in FLOWS.items()}


# ---- client tests --------------------------------------------------------------


@pytest.fixture(scope="session")
def flux_mock_server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """The mock shared by every test of the session."""
    with MockServer(time_scale=request.config.getoption("flux_mock_time_scale")) as server:
        yield server


@pytest.fixture
def flux_mock(request: pytest.FixtureRequest) -> Iterator[FluxMock]:
    """A running mock and this test's part of its journal.

    ``@pytest.mark.flux_mock(time_scale=0.1, api_key="k", ...)`` gives the test
    its own server with those settings; otherwise the session's server is used.
    """
    marker = request.node.get_closest_marker("flux_mock")
    test_id = request.node.nodeid
    if marker and marker.kwargs:
        with MockServer(**marker.kwargs) as server:
            yield FluxMock(server, test_id)
    else:
        handle = FluxMock(request.getfixturevalue("flux_mock_server"), test_id)
        try:
            yield handle
        finally:
            handle.remove_rules()  # the next test starts without this test's faults
