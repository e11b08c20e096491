"""Scenario effects on the OpenAI-compatible API, through the real openai SDK.

The rules and their effects are the same as on the fal API; only the error
shape differs, chosen by the document's dialect (``http/errors.RENDERERS``).
Skipped where the OpenAI-compatible API is not served.
"""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from mockserver.spec.loader import default_spec
from mockserver.testing import MockServer
from tests.faults_helpers import TEST_ID, add_rule, rules

if not any(doc.dialect == "openai" for doc in default_spec().documents):
    pytest.skip("the OpenAI-compatible API is not served by this build", allow_module_level=True)

TEXT = "black-forest-labs/flux-kontext-max/text-to-image"


def sdk(server: MockServer, test_id: str, retries: int) -> OpenAI:
    return OpenAI(
        base_url=f"{server.url}/v1", api_key="k", max_retries=retries, timeout=10, default_headers={TEST_ID: test_id}
    )


def test_rate_limit_error_after_retries_honouring_retry_after_ms(
    instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("openai._base_client.time.sleep", slept.append)  # the SDK's pause between attempts
    rule = {"id": "limit", "match": {"path": "/v1/*"}, "effect": {"type": "error", "status": 429, "retry_after": 0.25}}
    add_rule(instant.url, rule, test_id)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(instant, test_id, 2).images.generate(model=TEXT, prompt="a fox")
    assert caught.value.code == "rate_limit"
    assert slept == [0.25, 0.25]  # from retry-after-ms, not the SDK's own backoff
    assert rules(instant.url, test_id)["limit"]["fired"] == 3


def test_ingress_errors_are_retried_then_succeed(
    instant: MockServer, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("openai._base_client.time.sleep", lambda seconds: None)
    add_rule(instant.url, {"id": "lb", "times": 2, "effect": {"type": "ingress_error", "status": 503}}, test_id)
    assert sdk(instant, test_id, 2).images.generate(model=TEXT, prompt="a fox").data
    assert rules(instant.url, test_id)["lb"]["fired"] == 2


def test_timeout_in_the_openai_shape(instant: MockServer, test_id: str) -> None:
    add_rule(instant.url, {"effect": {"type": "timeout"}}, test_id)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(instant, test_id, 0).images.generate(model=TEXT, prompt="a fox")
    assert caught.value.status_code == 504
    assert caught.value.code == "gateway_timeout_error"


def test_a_failing_model_answers_its_own_status_in_the_openai_shape(instant: MockServer, test_id: str) -> None:
    add_rule(instant.url, {"effect": {"type": "fail", "status": 500, "message": "model crashed"}}, test_id)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(instant, test_id, 0).images.generate(model=TEXT, prompt="a fox")
    assert caught.value.status_code == 500
    assert caught.value.code == "internal_error"
    assert "model crashed" in str(caught.value.message)


def test_a_rule_on_the_endpoint_fires_for_the_model_a_v1_body_names(instant: MockServer, test_id: str) -> None:
    # On /v1 the model is named by the body, not the path: the rule must read it from there.
    add_rule(instant.url, {"id": "by-model", "match": {"endpoint": TEXT}, "effect": {"type": "timeout"}}, test_id)
    with pytest.raises(openai.InternalServerError):
        sdk(instant, test_id, 0).images.generate(model=TEXT, prompt="a fox")
    assert rules(instant.url, test_id)["by-model"]["fired"] == 1


def test_a_rule_on_the_prompt_fires_for_the_prompt_of_a_v1_body(instant: MockServer, test_id: str) -> None:
    # The prompt is a field of the named model's schema, not of the body schema every /v1 call shares.
    add_rule(instant.url, {"id": "by-prompt", "match": {"prompt": "fox"}, "effect": {"type": "timeout"}}, test_id)
    assert sdk(instant, test_id, 0).images.generate(model=TEXT, prompt="a cat").data
    with pytest.raises(openai.InternalServerError):
        sdk(instant, test_id, 0).images.generate(model=TEXT, prompt="a red fox")
    assert rules(instant.url, test_id)["by-prompt"]["matched"] == 1
