"""The spec's roles are checked when it loads: unknown words and roles the handlers need but cannot get."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.spec.documents import SpecError
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role
from mockserver.testing import MockServer
from tests.helpers import specs_with


def test_the_shipped_spec_starts_and_its_roles_are_all_known() -> None:
    with MockServer(time_scale=0) as mock:
        assert mock.context.spec.named_models
    assert Role("model_name") is Role.MODEL_NAME


def test_an_unknown_role_on_a_shared_schema_stops_start_up(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "x-mock-role: seed\n", "x-mock-role: seeed\n", "fal-kontext.yaml")
    with pytest.raises(SpecError) as caught:
        MockServer(spec_paths=paths)
    message = str(caught.value)
    assert "fal-kontext.yaml" in message and "schema Seed" in message and "'seeed'" in message
    assert "known roles:" in message and "seed" in message


def test_a_lifecycle_header_without_its_expiration_role_stops_start_up(tmp_path: Path) -> None:
    # The handler reads the files' lifetime from the property with role expiration_seconds.
    paths = specs_with(tmp_path, ", x-mock-role: expiration_seconds}", "}", "fal-kontext.yaml")
    with pytest.raises(SpecError, match="X-Fal-Object-Lifecycle-Preference has role object_lifecycle but no property"):
        MockServer(spec_paths=paths)


def test_an_unknown_role_names_the_parameter_that_has_it(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "x-mock-role: fail_times", "x-mock-role: fail_count", "openai-images.yaml")
    with pytest.raises(SpecError, match=r"openai-images\.yaml: parameter FailTimes: field 'x-mock-fail-times' has "
                       r"unknown x-mock-role 'fail_count'"):
        MockServer(spec_paths=paths)


def test_an_unknown_role_inside_an_operation_names_it_and_the_field(tmp_path: Path) -> None:
    anchor = "      x-mock-handler: mock.health\n"
    body = (
        "      requestBody:\n        content:\n          application/json:\n            schema:\n"
        "              type: object\n              properties:\n"
        "                note: {type: string, x-mock-role: caption}\n"
    )
    paths = specs_with(tmp_path, anchor, anchor + body, "mock-admin.yaml")
    with pytest.raises(SpecError, match=r"operation \w+: field 'note' has unknown x-mock-role 'caption'"):
        MockServer(spec_paths=paths)


def test_a_role_a_handler_needs_removed_from_the_spec_stops_start_up(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "x-mock-role: model_name\n", "\n", "openai-images.yaml")
    with pytest.raises(SpecError, match=r"openai-images\.yaml: operation \w+: handler openai\.\w+ needs a field with "
                       r"x-mock-role model_name"):
        MockServer(spec_paths=paths)


def test_a_model_without_a_role_its_handler_needs_stops_start_up(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "x-mock-role: response_format\n", "\n", "openai-images.yaml")
    with pytest.raises(SpecError, match=r"model [\w/-]+: handler openai\.\w+ needs a field with x-mock-role "
                       r"response_format"):
        MockServer(spec_paths=paths)


def test_the_request_id_header_of_each_dialect_header_is_read_from_the_documented_response_header() -> None:
    spec = Spec.load()
    assert spec.request_id_header("fal") == "x-fal-request-id"
    assert spec.request_id_header("openai") == "x-request-id"


def test_the_retry_hints_are_the_documented_response_headers() -> None:
    spec = Spec.load()
    assert spec.answer_header("openai", Role.RETRY_DELAY_MS) == "retry-after-ms"
    assert spec.answer_header("openai", Role.RETRY_ADVICE) == "x-should-retry"
    assert spec.answer_header("fal", Role.RETRY_DELAY) == "retry-after"
    assert spec.answer_header("fal", Role.RETRY_ADVICE) is None  # fal's clients have no such hint
    assert spec.answer_header_names(Role.RETRY_DELAY) == ("retry-after",)


def test_a_retry_header_has_one_name_per_dialect(tmp_path: Path) -> None:
    old = "Too many requests (on demand, see x-mock-fail-status).\n      headers:\n        retry-after:\n" \
          "          $ref: '#/components/headers/RetryAfter'\n        retry-after-ms:"
    paths = specs_with(tmp_path, old, old.replace("retry-after-ms:", "x-retry-in-ms:"), "openai-images.yaml")
    with pytest.raises(SpecError, match=r"the openai retry_delay_ms header is x-retry-in-ms, not retry-after-ms"):
        MockServer(spec_paths=paths)


def test_a_renamed_retry_header_is_what_the_mock_sends_and_the_kit_reads(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "x-mock-dialect: openai\n", "x-mock-dialect: openai\n", "openai-images.yaml")
    document = tmp_path / "openai-images.yaml"  # every answer that declares the header renames it
    document.write_text(document.read_text().replace("retry-after-ms:\n", "x-retry-in-ms:\n"))
    with MockServer(time_scale=0, spec_paths=paths) as mock, httpx.Client(base_url=mock.url) as http:
        faults = {"x-mock-fail-status": "429", "x-mock-retry-after-ms": "60000"}
        body = {"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": "x"}
        refused = http.post("/v1/images/generations", json=body, headers=faults)
        assert refused.headers["x-retry-in-ms"] == "60000" and "retry-after-ms" not in refused.headers
        http.post("/v1/images/generations", json=body)  # at once, not a minute later
        entries = http.get("/_mock/journal").json()["entries"]
        assert [v["rule"] for v in entries[-1]["violations"]] == ["http.retry-after-ignored"]


def test_without_a_request_id_header_role_the_mock_does_not_start(tmp_path: Path) -> None:
    old = "      description: The id of the request that produced this answer.\n      x-mock-role: request_id\n"
    paths = specs_with(tmp_path, old, "      description: The id of the request that produced this answer.\n",
                        "fal-kontext.yaml")
    with pytest.raises(SpecError, match=r"no fal document declares a response header with x-mock-role request_id"):
        MockServer(spec_paths=paths)


def test_the_test_id_header_is_the_header_parameter_with_its_role(tmp_path: Path) -> None:
    assert Spec.load().test_id_header == "x-mock-test-id"
    paths = specs_with(tmp_path, "      name: X-Mock-Test-Id\n", "      name: X-Suite-Case\n", "mock-admin.yaml")
    with MockServer(time_scale=0, spec_paths=paths) as mock:
        assert mock.test_id_header == "x-suite-case"
        rule = {"id": "mine", "effect": {"type": "error", "status": 503}}
        assert httpx.post(f"{mock.url}/_mock/scenarios", json=rule, headers={"X-Suite-Case": "t"}).status_code == 201
        scoped = httpx.get(f"{mock.url}/_mock/scenarios", headers={"X-Suite-Case": "t"}).json()["rules"]
        assert [r["id"] for r in scoped] == ["mine"]
        assert httpx.get(f"{mock.url}/_mock/scenarios").json()["rules"] == []  # only that test's scope has it
        answer = httpx.post(f"{mock.url}/run/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "x"},
                            headers={"X-Suite-Case": "t"})
        assert answer.status_code == 503
