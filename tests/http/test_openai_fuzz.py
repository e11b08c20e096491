"""Whatever a client sends to the OpenAI images API, the answer is a 200 or a clean 400, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.testing import MockServer

MODELS = ["black-forest-labs/flux-kontext-max/multi", "black-forest-labs/flux-kontext-max",
          "black-forest-labs/flux-kontext-max/text-to-image"]
FIELDS = ["model", "prompt", "images", "image", "n", "aspect_ratio", "seed", "steps", "guidance_scale",
          "negative_prompt", "response_format", "strength", "size"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["1:1", "16:9", "url", "b64_json", "data:image/png;base64,AAAA", "-1"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=6)
bodies = st.fixed_dictionaries({"model": st.sampled_from(MODELS) | values}).flatmap(
    lambda base: st.dictionaries(st.sampled_from(FIELDS), values, max_size=6).map(lambda extra: {**extra, **base})
)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(time_scale=0) as mock:
        yield mock


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies | values)
def test_any_json_body_gets_a_clean_answer(server: MockServer, body: Any) -> None:
    response = httpx.post(f"{server.url}/v1/images/generations", json=body, timeout=30)
    assert response.status_code in (200, 400), response.text
    assert response.headers["x-request-id"]
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "param_error"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=12), max_size=6),
    files=st.lists(st.tuples(st.sampled_from(["image", "image[]", "other"]), st.binary(max_size=64)), max_size=3),
)
def test_any_form_gets_a_clean_answer(server: MockServer, fields: dict[str, str], files: list[Any]) -> None:
    parts = [(name, ("f.png", data, "image/png")) for name, data in files]
    response = httpx.post(f"{server.url}/v1/images/edits", data=fields, files=parts or None, timeout=30)
    assert response.status_code in (200, 400, 415), response.text
    assert response.headers["x-request-id"]
