"""The client rules in the OpenAI dialect, over HTTP against a real mock whose time is injected.

A multipart edit is judged against the model its form names; ``retry-after-ms``
is read before ``Retry-After``, as the OpenAI SDKs read it; a request repeated
after ``x-should-retry: false`` is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer
from tests.helpers import png

SINGLE = "black-forest-labs/flux-kontext-max"
MULTI = "black-forest-labs/flux-kontext-max/multi"
TEXT = "black-forest-labs/flux-kontext-max/text-to-image"


@pytest.fixture
def mock(clock: ManualClock) -> Iterator[MockServer]:
    """Time moves only with ``clock.advance``; jobs need none, so a synchronous answer never waits."""
    with MockServer(clock=clock, time_scale=0) as server:
        yield server


@pytest.fixture
def http(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10, headers={"X-Mock-Test-Id": "openai-rules"}) as client:
        yield client


def verdicts(mock: MockServer) -> list[list[tuple[str, str | None, str]]]:
    """Per journalled request, in order: (rule, field, severity) of each verdict."""
    page: dict[str, Any] = httpx.get(f"{mock.url}/_mock/journal", params={"limit": "100"}).json()
    ordered = sorted(page["entries"], key=lambda e: e["seq"])
    return [[(v["rule"], v["field"], v["severity"]) for v in e["violations"]] for e in ordered]


def edit(http: httpx.Client, **fields: str) -> httpx.Response:
    files = {"image": ("in.png", png((600, 400)), "image/png")}
    return http.post("/v1/images/edits", data={"prompt": "frame it", **fields}, files=files)


# ---- a multipart edit, judged against the model it names --------------------------------------


def test_a_correct_edit_form_gets_no_verdict(mock: MockServer, http: httpx.Client) -> None:
    answer = edit(http, model=SINGLE, strength="0.6", seed="7", n="1")
    assert answer.status_code == 200, answer.text
    assert verdicts(mock) == [[]]


def test_a_wrong_typed_form_field_is_an_error_naming_it(mock: MockServer, http: httpx.Client) -> None:
    assert edit(http, model=SINGLE, seed="seven").status_code == 400
    [found] = verdicts(mock)
    assert [(field, severity) for _, field, severity in found] == [("seed", "error")], found
    assert found[0][0].startswith("schema.")


def test_the_form_is_judged_by_the_named_model_not_another(mock: MockServer, http: httpx.Client) -> None:
    # strength belongs to the single-image model only: the multi-image model's schema lacks it.
    assert edit(http, model=SINGLE, strength="0.6").status_code == 200
    assert edit(http, model=MULTI, strength="0.6").status_code == 200
    single, multi = verdicts(mock)
    assert single == []
    assert multi == [("schema.unknown-field", "strength", "warning")]


# ---- retry hints, as the OpenAI SDKs read them ------------------------------------------------

FAIL_ONCE = {"x-mock-fail-status": "429", "x-mock-fail-times": "1", "x-mock-retry-after-ms": "1500"}
BODY = {"model": TEXT, "prompt": "a kite"}


def _generate(http: httpx.Client, attempt: int, **headers: str) -> httpx.Response:
    # x-stainless-retry-count is how the SDK numbers its attempts; the fault headers count by it.
    sent = {**FAIL_ONCE, **headers, "x-stainless-retry-count": str(attempt)}
    return http.post("/v1/images/generations", json=BODY, headers=sent)


@pytest.mark.parametrize(("wait", "warned"), [(1.0, True), (1.6, False)])
def test_retry_after_ms_is_read_first(
    mock: MockServer, http: httpx.Client, clock: ManualClock, wait: float, warned: bool
) -> None:
    refused = _generate(http, 0)
    # retry-after says 2 (whole seconds, rounded up): only retry-after-ms makes 1.6 s long enough.
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "2")
    clock.advance(wait)
    assert _generate(http, 1).status_code == 200
    first, second = verdicts(mock)
    assert [rule for rule, _, severity in first] == ["fault.injected"]
    expected = [("http.retry-after-ignored", None, "warning")] if warned else []
    assert second == expected


@pytest.mark.parametrize(("should_retry", "warned"), [("false", True), ("true", False)])
def test_repeating_after_should_retry_false_is_a_warning(
    mock: MockServer, http: httpx.Client, clock: ManualClock, should_retry: str, warned: bool
) -> None:
    _generate(http, 0, **{"x-mock-should-retry": should_retry, "x-mock-retry-after-ms": "0"})
    clock.advance(5)  # long after any delay: only the refusal is left to break
    assert _generate(http, 1).status_code == 200
    second = verdicts(mock)[1]
    expected = [("http.retry-refused-ignored", None, "warning")] if warned else []
    assert second == expected
