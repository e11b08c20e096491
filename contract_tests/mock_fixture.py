"""The ``flux_mock`` fixture's handle: a mock server and this test's slice of its journal."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from contract_tests.report import ContractViolation
from mockserver.testing import (
    ERROR,
    INFO,
    WARNING,
    Entry,
    MockServer,
    Violation,
    client_environment,
    format_report,
    read_all,
    summarize,
)


def server_options(marked: Mapping[str, Any]) -> dict[str, Any]:
    """A ``flux_mock`` marker's options as :class:`MockServer` takes them (``replay=DIR``: its replay_dir)."""
    options = dict(marked)
    if "replay" in options:
        options["replay_dir"] = Path(options.pop("replay"))
    return options


class FluxMock:
    """One test's view of a running mock.

    Requests that carry ``X-Mock-Test-Id: <test_id>`` (see :attr:`headers`)
    belong to this test alone; requests without the header count for whichever
    test is running when they arrive.
    """

    def __init__(self, server: MockServer, test_id: str) -> None:
        self.server = server
        self.test_id = test_id
        self._since = server.context.journal.last_seq
        self._rules: list[str] = []

    def add_rule(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """Add a scenario rule (fault injection) for the rest of this test.

        The client under test usually cannot add ``X-Mock-Test-Id``, so the rule
        is server-wide while the test runs and is removed when it ends. The
        rule is validated by the mock against the spec; a bad one raises.
        """
        response = httpx.post(f"{self.url}/_mock/scenarios", json=dict(rule), timeout=10)
        if response.status_code != 201:
            raise ValueError(f"the mock refused the rule ({response.status_code}): {response.text}")
        stored: dict[str, Any] = response.json()
        self._rules.append(str(stored["id"]))
        return stored

    def remove_rules(self) -> None:
        """Remove the rules this test added (done for you when the test ends)."""
        for rule_id in self._rules:
            httpx.delete(f"{self.url}/_mock/scenarios/{rule_id}", timeout=10)
        self._rules.clear()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ui_url(self) -> str:
        """The dashboard, showing this test's jobs (requests sent with :attr:`headers`)."""
        return f"{self.server.ui_url}?{urlencode({'test_id': self.test_id})}"

    @property
    def headers(self) -> dict[str, str]:
        return {self.server.test_id_header: self.test_id}

    def environment(self) -> dict[str, str]:
        """Variables that point a client process at this mock (as ``flux-mock check`` sets them)."""
        return client_environment(self.server.run_info())

    def entries(self) -> list[Entry]:
        mine = read_all(self.server, since=self._since)
        return [e for e in mine if e.test_id in (self.test_id, None)]

    def violations(self, *, include_warnings: bool = True) -> list[Violation]:
        """What the client broke (errors, and warnings unless left out); info lines are not violations."""
        return [
            v
            for e in self.entries()
            for v in e.violations
            if v.severity == ERROR or (include_warnings and v.severity != INFO)
        ]

    def report(self) -> str:
        return format_report(self.entries())

    def assert_no_violations(self, *, strict: bool = False) -> None:
        assert_client_conforms(self, strict=strict)


def assert_client_conforms(mock: FluxMock, *, strict: bool = False) -> None:
    """Fail the calling test with the violation report if the client broke the contract.

    Errors fail it; with ``strict=True`` warnings do too. What the mock was
    told to do (scenario rules, ``add_rule``, ``x-mock-fail-*``) is never
    counted against the client.
    """
    entries = mock.entries()
    summary = summarize(entries)
    if summary.failed(strict=strict):
        failing = {ERROR, WARNING} if strict else {ERROR}
        wanted = [e for e in entries if any(v.severity in failing for v in e.violations)]
        raise ContractViolation(
            f"the client broke the contract ({summary.counts()}):\n{format_report(wanted)}"
        )
