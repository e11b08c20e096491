"""Schemathesis against the running mock, every operation of every file in specs/: all checks.

No 5xx, answers that conform to the spec, valid requests accepted and invalid
ones refused. The few places where schemathesis's defaults do not fit are
set per operation in CONFIG, each with its reason; nothing else is excluded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.core.parameters import ParameterLocation

from mockserver.testing import MockServer

pytestmark = pytest.mark.slow

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))

# schemathesis's own list of statuses that refuse invalid data (4.x).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict({
    "operations": [
        {
            # The run host's body schema depends on the endpoint in its path, which OpenAPI cannot
            # express: its document says "any object", so a body the named model refuses is no fault.
            "include-operation-id": ["runSync", "runStream"],
            "checks": {"positive_data_acceptance": {"enabled": False}},
        },
        {
            # The proxy answers as its target does, so "valid" is the target's to say; its own
            # refusal of a target that is not a fal URL is 412, as fal's proxies answer.
            "include-operation-id": ["proxyGet", "proxyPost", "proxyPut"],
            "checks": {
                "positive_data_acceptance": {"enabled": False},
                "negative_data_rejection": {"expected-statuses": ["400", "412", "422"]},
            },
        },
        {
            # Likewise on /v1: the body's schema is that of the model it names (x-mock-models), which
            # the document's one body schema cannot say. And x-mock-fail-status answers the error it
            # asks for whatever the body, 408 among them (schemathesis's list of refusals lacks it).
            "include-operation-id": ["createImage", "editImage"],
            "checks": {
                "positive_data_acceptance": {"enabled": False},
                "negative_data_rejection": {"expected-statuses": [*REFUSALS, "408"]},
            },
        },
        {
            # The dashboard's live feed answers for as long as the page stays open: a request that
            # is never done is what it is for. tests/ui drives it with a browser and checks its 422s.
            "include-operation-id": ["dashboardEvents"],
            "enabled": False,
        },
    ]
})

# Bounded for CI: a few dozen generated requests per operation, the same ones each run.
FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)


class ServerPerOperation:
    """A fresh mock for each operation: a scenario rule the admin API's fuzzing adds (a truncated
    body, say) must not judge another operation's answers. hypothesis runs one operation's examples
    together, so a new label means the previous operation is done."""

    def __init__(self) -> None:
        self._label: str | None = None
        self._mock: MockServer | None = None

    def url_for(self, label: str) -> str:
        if label != self._label or self._mock is None:
            self.close()
            self._mock = MockServer(time_scale=0).start()
            self._label = label
        return self._mock.url

    def close(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None


@pytest.fixture
def servers() -> Iterator[ServerPerOperation]:
    per_operation = ServerPerOperation()
    yield per_operation
    per_operation.close()


def _asked_failure(case: schemathesis.Case[Any]) -> int | str | None:
    """The value of the header with role fail_status, when the case sends one (an int when valid)."""
    for parameter in case.operation.headers:
        if parameter.definition.get("x-mock-role") != "fail_status":
            continue
        sent = {k.lower(): v for k, v in (case.headers or {}).items()}.get(parameter.name.lower())
        if sent is None:
            return None
        value = _as_read(str(sent), parameter.definition.get("schema", {}))
        return value if Draft202012Validator(parameter.definition.get("schema", {})).is_valid(value) else str(sent)
    return None


def _only_extra_headers(case: schemathesis.Case[Any]) -> bool:
    """Whether a "negative" case's only negation is a header the operation does not declare.

    Servers ignore headers they do not know, so such a request is valid. schemathesis means to
    let it pass, but (as of 4.32) re-validates the declared headers by their text, so a declared
    integer header ("x-mock-retry-after-ms: 0") makes it count as invalid data accepted.
    """
    meta = case.meta
    if meta is None or any(
        location is not ParameterLocation.HEADER and component.mode.is_negative
        for location, component in meta.components.items()
    ):
        return False
    declared = {p.name.lower(): p.definition.get("schema", {}) for p in case.operation.headers}
    for name, text in (case.headers or {}).items():
        schema = declared.get(name.lower())
        if schema is not None and not Draft202012Validator(schema).is_valid(_as_read(str(text), schema)):
            return False
    return True


def _as_read(text: str, schema: dict[str, Any]) -> Any:
    if schema.get("type") == "integer" and text.strip().lstrip("-").isdigit():
        return int(text)
    return text.strip()


def _fuzzed(path: Path) -> Any:
    # Loaded when the test runs, not when it is collected: building the cases of the first
    # (coverage) phase is most of the cost, and every test worker collects every test.
    fixture_name = f"schema_{path.stem.replace('-', '_')}"

    @pytest.fixture(name=fixture_name)
    def schema() -> Any:
        return schemathesis.openapi.from_path(path, config=CONFIG)

    globals()[fixture_name] = schema
    lazy = schemathesis.pytest.from_fixture(fixture_name)

    @lazy.parametrize()
    @FUZZ
    def test(case: schemathesis.Case[Any], servers: ServerPerOperation) -> None:
        # A 5xx that x-mock-fail-status asked for is no crash; it must be the one asked for.
        asked = _asked_failure(case)
        excluded: list[CheckFunction] = [not_a_server_error] if asked is not None else []
        try:
            base_url = servers.url_for(case.operation.label)
            response = case.call_and_validate(base_url=base_url, excluded_checks=excluded)
            # Whatever the input, no answer quotes a Python object (`<_io.BytesIO object at 0x…>`).
            assert " object at 0x" not in response.text, response.text
            if isinstance(asked, int) and case.meta is not None and case.meta.generation.mode.is_positive:
                assert response.status_code == asked, (case.path, case.headers, case.body, response.text)
        except FailureGroup as found:
            if not (all(isinstance(e, AcceptedNegativeData) for e in found.exceptions) and _only_extra_headers(case)):
                raise

    return test


# One test per spec file, each parametrized by that file's operations.
for _path in SPEC_FILES:
    globals()[f"test_{_path.stem.replace('-', '_')}_conforms"] = _fuzzed(_path)


def test_the_spec_files_were_found() -> None:
    # An empty glob would leave this module with no fuzz test at all, silently.
    expected = {"fal-kontext.yaml", "fal-platform.yaml", "openai-images.yaml", "mock-admin.yaml"}
    assert {p.name for p in SPEC_FILES} >= expected
