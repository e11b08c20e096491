"""The default spec is loaded once per process and shared by every mock: serving must never change it."""

from __future__ import annotations

import copy
import json
from types import MappingProxyType

import httpx
import pytest

from mockserver.config import Settings
from mockserver.http.app import create_app
from mockserver.spec.loader import default_spec, default_spec_paths
from mockserver.testing import MockServer
from tests.helpers import EDIT, MULTI, TEXT, data_uri

OPENAI_T2I = "black-forest-labs/flux-kontext-max/text-to-image"
OPENAI_MULTI = "black-forest-labs/flux-kontext-max/multi"


def test_mocks_with_the_default_documents_share_one_spec() -> None:
    first, second = create_app(Settings(port=0)), create_app(Settings(port=0))
    assert first.state.ctx.spec is second.state.ctx.spec is default_spec()


def test_documents_of_ones_own_are_loaded_afresh() -> None:
    paths = tuple(default_spec_paths())
    own = create_app(Settings(port=0, spec_paths=paths)).state.ctx.spec
    assert own is not default_spec()
    assert own is not create_app(Settings(port=0, spec_paths=paths)).state.ctx.spec


def test_the_shared_spec_is_read_only_where_it_is_shared() -> None:
    spec = default_spec()
    assert isinstance(spec.documents, tuple) and isinstance(spec.operations, tuple)
    with pytest.raises(TypeError):
        spec.named_models["x"] = spec.named_models[OPENAI_T2I]  # type: ignore[index]
    model = spec.models()[0].model
    assert model is not None
    assert isinstance(model.defaults, MappingProxyType) and isinstance(model.fields, MappingProxyType)
    with pytest.raises(AttributeError):
        spec.documents[0].raw = {}  # type: ignore[misc]


def test_serving_every_kind_of_request_leaves_the_shared_spec_as_it_was() -> None:
    spec = default_spec()
    before = copy.deepcopy([doc.raw for doc in spec.documents])
    image = data_uri()
    with MockServer(time_scale=0) as mock, httpx.Client(base_url=mock.url) as client:
        assert mock.context.spec is spec
        ids = []
        for path, body in [
            (TEXT, {"prompt": "a", "num_images": 2, "output_format": "png", "sync_mode": True}),
            (TEXT, {"prompt": "b"}),
            (EDIT, {"prompt": "c", "image_url": image}),
            (MULTI, {"prompt": "d", "image_urls": [image, image], "aspect_ratio": "16:9"}),
            (TEXT, {"prompt": "", "num_images": "two", "unknown": 1}),
        ]:
            answer = client.post(f"/{path}", json=body)
            if answer.status_code == 200:
                ids.append(answer.json()["request_id"])
        for rid in ids:
            assert client.get(f"/fal-ai/flux-pro/requests/{rid}/status", params={"logs": 1}).status_code == 200
            assert client.get(f"/fal-ai/flux-pro/requests/{rid}").status_code == 200
        assert client.post(f"/run/{TEXT}", json={"prompt": "e"}).status_code == 200
        generations: list[dict[str, object]] = [
            {"model": OPENAI_T2I, "prompt": "f", "n": 2}, {"model": OPENAI_MULTI, "prompt": "g", "images": [image]},
        ]
        for body in generations:
            assert client.post("/v1/images/generations", json=body).status_code == 200
        assert client.post("/v1/images/generations", json={"model": OPENAI_T2I, "n": 9}).status_code == 400
        rule = {"match": {"path": "/x"}, "times": 1, "effect": {"type": "error", "status": 500}}
        assert client.post("/_mock/scenarios", json=rule).status_code == 201
        assert client.post("/_mock/clock", json={"advance": 5}).status_code == 200
        assert client.post("/storage/upload/initiate", json={"file_name": "a.png"}).status_code == 200
        journal = client.get("/_mock/journal").json()  # judged against the spec's rules as it is read
        assert journal
    assert json.dumps([doc.raw for doc in spec.documents], sort_keys=True) == json.dumps(before, sort_keys=True)
