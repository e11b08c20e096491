"""The pytest plugin (registered through the ``pytest11`` entry point).

Two things for two audiences:

- server conformance: options ``--target``, ``--api-key``, ``--api``,
  ``--endpoint``, ``--run-target``, ``--webhooks``, ``--extensions``,
  ``--poll-interval``, ``--poll-timeout``, ``--contract-spec``; the
  parametrisation of the tests in this package by the request fixtures; and
  the closing summary, per rule, of checks passed, failed and warned;
- client tests: the ``flux_mock`` fixture (one mock per session, the journal
  read per test) and the ``flux_mock`` marker for per-test server options.

Nothing here runs unless asked for: without ``--target`` the conformance tests
skip, and the mock starts only when a test uses ``flux_mock``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contract_tests.cases import Case, load_cases
from contract_tests.fal_flow import FalFlow, FlowOptions
from contract_tests.mock_fixture import FluxMock, server_options
from contract_tests.openai_flow import OpenAIFlow
from contract_tests.report import Findings, Tally
from contract_tests.webhook_receiver import WebhookReceiver, webhook_receiver
from mockserver.testing import MockServer, Operation, Role, Spec, SpecDocument, SpecError

# Test argument -> (the kind of case it takes, the APIs that have such a test).
_KINDS = {
    "contract_valid_case": ("valid", ("fal", "openai")),
    "contract_invalid_case": ("invalid", ("fal", "openai")),
    "contract_cancel_case": ("cancel", ("fal",)),
    "contract_run_case": ("run", ("fal",)),
    "contract_webhook_case": ("webhook", ("fal",)),
    "contract_edit_case": ("edit", ("openai",)),
}
_TALLY = pytest.StashKey[Tally]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flux-mock contract tests")
    group.addoption("--target", default=None, help="base URL of the server to check for conformance")
    group.addoption(
        "--api-key", default=None,
        help="sent to the target as each API's spec asks: 'Key <K>' (fal) or 'Bearer <K>' (OpenAI)",
    )
    group.addoption(
        "--api", action="append", default=None,
        help="check only this API: fal or openai (repeatable; default every API of the spec)",
    )
    group.addoption(
        "--endpoint", action="append", default=None,
        help="check only this fal endpoint id or OpenAI model name (repeatable)",
    )
    group.addoption(
        "--run-target", default=None,
        help="base URL of the synchronous run host (default: where the mock serves it on --target)",
    )
    group.addoption(
        "--webhooks", action="store_true",
        help="also submit with a webhook to a loopback receiver (the target must reach this machine)",
    )
    group.addoption(
        "--webhook-keys", default=None,
        help="URL of the JWKS that signs the target's webhooks (default: the target's own key route)",
    )
    group.addoption("--extensions", action="store_true", help="also check the mock's own extension routes")
    group.addoption("--poll-interval", type=float, default=0.05, help="seconds between status polls (default 0.05)")
    group.addoption("--poll-timeout", type=float, default=120.0, help="give up on a request after this many seconds")
    group.addoption("--contract-spec", action="append", type=Path, default=None, help="spec file(s) to check against")
    group.addoption(
        "--flux-mock-time-scale", type=float, default=0.0,
        help="time scale of the flux_mock fixture's server (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "flux_mock(**settings): start a dedicated mock with these Settings for this test"
        " (replay=DIR: answer from the cassette in DIR)",
    )
    config.stash[_TALLY] = Tally()
    if not config.getoption("target", None):
        return
    spec = _spec(config)
    known = {op.model.endpoint_id for op in spec.models() if op.model} | set(spec.named_models)
    unknown = [e for e in config.getoption("endpoint") or () if e not in known]
    if unknown:
        raise pytest.UsageError(
            f"--endpoint {', '.join(unknown)}: not in the spec; known: {', '.join(sorted(known))}"
        )
    apis = {doc.dialect for doc in spec.documents if "x-contract" in doc.raw}
    wrong = [a for a in config.getoption("api") or () if a not in apis]
    if wrong:
        raise pytest.UsageError(f"--api {', '.join(wrong)}: the spec has {', '.join(sorted(apis))}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash[_TALLY].lines()
    if lines:
        terminalreporter.section("flux-mock conformance: checks per rule")
        for line in lines:
            terminalreporter.write_line(line)


def _spec(config: pytest.Config) -> Spec:
    cached = getattr(config, "_flux_contract_spec", None)
    if cached is None:
        cached = Spec.load(config.getoption("contract_spec"))
        config._flux_contract_spec = cached  # type: ignore[attr-defined]
    return cached


def is_extension(op: Operation) -> bool:
    """An operation of the mock's own, not of the emulated service (``x-mock-extension``)."""
    return op.is_extension


def _apis(config: pytest.Config) -> set[str]:
    chosen = config.getoption("api")
    return set(chosen) if chosen else {doc.dialect for doc in _spec(config).documents}


def selected_cases(config: pytest.Config, kind: str, apis: tuple[str, ...] = ("fal", "openai")) -> list[Case]:
    spec = _spec(config)
    wanted = config.getoption("endpoint")
    known = {op.model.endpoint_id for op in spec.models() if op.model} | set(spec.named_models)
    chosen = _apis(config).intersection(apis)
    cases = [
        c for c in load_cases() if c.endpoint in known and c.api in chosen and (not wanted or c.endpoint in wanted)
    ]
    if kind in ("cancel", "run", "webhook", "edit"):  # one per endpoint: its first valid request
        firsts: dict[str, Case] = {}
        for case in cases:
            if case.kind == "valid":
                firsts.setdefault(case.endpoint, case)
        chosen_cases = list(firsts.values())
        if kind == "edit":  # only models that take an input image can be edited
            chosen_cases = [
                c for c in chosen_cases
                if c.endpoint in spec.named_models and spec.named_models[c.endpoint].info.field(Role.IMAGE_INPUT)
            ]
        return chosen_cases
    return [c for c in cases if c.kind == kind]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for argname, (kind, apis) in _KINDS.items():
        if argname in metafunc.fixturenames:
            cases = selected_cases(metafunc.config, kind, apis)
            metafunc.parametrize(argname, cases, ids=[f"{c.endpoint}:{c.name}" for c in cases])


@pytest.fixture
def contract_spec(request: pytest.FixtureRequest) -> Spec:
    return _spec(request.config)


def _authorization(document: SpecDocument | None, key: str) -> str:
    """``Bearer <key>`` where the document's first security scheme is HTTP bearer, else fal's ``Key <key>``."""
    if document is not None:
        schemes = document.raw.get("components", {}).get("securitySchemes", {})
        for requirement in document.raw.get("security", []):
            for name in requirement:
                scheme = schemes.get(name, {})
                if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
                    return f"Bearer {key}"
            break
    return f"Key {key}"


def _client(request: pytest.FixtureRequest, dialect: str) -> httpx.Client:
    target = request.config.getoption("target")
    if not target:
        pytest.skip("server conformance needs --target URL")
    headers: dict[str, str] = {}
    # Specs without the mock's admin document name no test id header: nothing to scope by test.
    with contextlib.suppress(SpecError):
        headers[_spec(request.config).test_id_header] = request.node.nodeid
    key = request.config.getoption("api_key")
    if key:
        document = next((d for d in _spec(request.config).documents if d.dialect == dialect), None)
        headers["Authorization"] = _authorization(document, key)
    return httpx.Client(headers=headers, timeout=60)


@pytest.fixture
def contract_client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with _client(request, "fal") as client:
        yield client


@dataclass
class Flows:
    fal: FalFlow
    openai: OpenAIFlow
    run_base: str


@pytest.fixture
def contract_flows(
    request: pytest.FixtureRequest, contract_client: httpx.Client, contract_spec: Spec
) -> Iterator[Flows]:
    config = request.config
    options = FlowOptions(
        config.getoption("poll_interval"), config.getoption("poll_timeout"), config.getoption("webhook_keys")
    )
    target = str(config.getoption("target"))
    fal = FalFlow(contract_spec, contract_client, target, options)
    run_base = config.getoption("run_target") or target.rstrip("/") + run_prefix(contract_spec, fal)
    with _client(request, "openai") as openai_client:
        yield Flows(fal, OpenAIFlow(contract_spec, openai_client, target), run_base)


def run_prefix(spec: Spec, fal: FalFlow) -> str:
    """The literal start of the run operation's path (``/run`` on the mock; fal's run host has none)."""
    path = spec.operation(str(fal.contract().run_operation)).path
    return path.split("{", 1)[0].rstrip("/")


@pytest.fixture
def contract_verdict(request: pytest.FixtureRequest) -> Callable[[Findings], None]:
    """Count a test's findings in the run's summary, then fail the test on any error."""

    def verdict(found: Findings) -> None:
        request.config.stash[_TALLY].add(found)
        found.raise_if_any()

    return verdict


@pytest.fixture
def contract_webhooks(request: pytest.FixtureRequest) -> Iterator[WebhookReceiver]:
    if not request.config.getoption("webhooks"):
        pytest.skip("webhook delivery is checked with --webhooks (the target must reach this machine)")
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def contract_extensions(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("extensions"):
        pytest.skip("the mock's own extensions are checked with --extensions")


def requires_api(request: pytest.FixtureRequest, api: str) -> None:
    if api not in _apis(request.config):
        pytest.skip(f"the {api} API is not selected (--api)")


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
    its own server with those settings (``replay=DIR`` for one that answers from
    a cassette); otherwise the session's server is used.
    """
    marker = request.node.get_closest_marker("flux_mock")
    test_id = request.node.nodeid
    if marker and marker.kwargs:
        with MockServer(**server_options(marker.kwargs)) as server:
            yield FluxMock(server, test_id)
    else:
        handle = FluxMock(request.getfixturevalue("flux_mock_server"), test_id)
        try:
            yield handle
        finally:
            handle.remove_rules()  # the next test starts without this test's faults
