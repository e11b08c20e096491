"""specs/openai-images.yaml: a valid document whose examples obey its schemas, compiled as the mock reads it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockserver.cli import build_parser, settings_from
from mockserver.spec.documents import SpecError
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role
from mockserver.spec.yaml_files import read_yaml
from mockserver.testing import MockServer

SPECS = Path(__file__).resolve().parents[2] / "specs"
OPENAI = SPECS / "openai-images.yaml"
FAL = SPECS / "fal-kontext.yaml"


def _raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = read_yaml(path)
    return data


def _validator(schema_ref: str) -> Draft202012Validator:
    """A validator built straight from the YAML files, independent of the mock's Spec class."""
    registry: Registry[Any] = Registry()
    for path in (OPENAI, FAL):
        registry = registry.with_resource(path.as_uri(), Resource.from_contents(_raw(path), DRAFT202012))
    return Draft202012Validator({"$ref": OPENAI.as_uri() + schema_ref}, registry=registry)


def _examples() -> list[tuple[str, str, Any]]:
    """(where, schema ref, example) for every example in the document."""
    raw = _raw(OPENAI)
    models = raw["x-mock-models"]
    found: list[tuple[str, str, Any]] = []
    for name, schema in raw["components"]["schemas"].items():
        for i, example in enumerate(schema.get("examples", [])):
            found.append((f"{name}[{i}]", f"#/components/schemas/{name}", example))
    body = raw["paths"]["/v1/images/generations"]["post"]["requestBody"]["content"]["application/json"]
    for key, example in body["examples"].items():
        found.append((f"generations:{key}", models[example["value"]["model"]]["schema"], example["value"]))
    for name, response in raw["components"]["responses"].items():
        content = response["content"]["application/json"]
        ref = content["schema"]["$ref"]
        values = [e["value"] for e in content.get("examples", {}).values()] + (
            [content["example"]] if "example" in content else [])
        found.extend((f"{name}:{i}", ref, value) for i, value in enumerate(values))
    for path, item in raw["paths"].items():
        for method, op in item.items():
            for status, response in op.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                if "example" in content:
                    found.append((f"{method} {path} {status}", content["schema"]["$ref"], content["example"]))
    return found


def test_the_document_is_valid_openapi() -> None:
    validate_openapi(_raw(OPENAI), base_uri=OPENAI.as_uri())


def test_there_are_examples_of_every_kind() -> None:
    where = {w for w, _, _ in _examples()}
    expected = {
        "KontextMaxMultiRequest[0]", "KontextMaxRequest[0]", "KontextMaxTextRequest[0]",
        "generations:multi", "generations:single", "generations:text",
        "Images:0", "Images:1", "BadRequest:0", "Unauthorized:0", "RateLimited:0", "GatewayTimeout:0",
        "get /v1/models 200", "get /v1/models/{model} 404",
    }
    assert expected <= where, expected - where


@pytest.mark.parametrize(("where", "ref", "example"), _examples(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_obeys_its_schema(where: str, ref: str, example: Any) -> None:
    errors = [e.message for e in _validator(ref).iter_errors(example)]
    assert errors == [], where


def test_models_share_the_fal_size_table_through_a_cross_document_ref() -> None:
    spec = Spec.load([FAL, OPENAI])
    sizes = _raw(FAL)["components"]["schemas"]["AspectRatio"]["x-mock-sizes"]
    table = {ratio: tuple(size) for ratio, size in sizes.items()}
    assert len(spec.named_models) == 3
    for named in spec.named_models.values():
        assert named.info.sizes == table
        assert named.info.defaults["aspect_ratio"] == "1:1"
        assert named.info.image_format == "png"
        entry = _raw(OPENAI)["x-mock-models"][named.name]
        assert named.info.endpoint_id == entry["renders_as"]


def test_roles_are_read_from_the_openai_schemas() -> None:
    spec = Spec.load([FAL, OPENAI])
    multi = spec.named_models["black-forest-labs/flux-kontext-max/multi"].info
    assert {role: f.name for role, f in multi.fields.items()} == {
        "model_name": "model",
        "prompt": "prompt",
        "image_input": "images",
        "num_images": "n",
        "aspect_ratio": "aspect_ratio",
        "seed": "seed",
        "response_format": "response_format",
    }
    single = spec.named_models["black-forest-labs/flux-kontext-max"].info
    assert single.name_of(Role.IMAGE_INPUT) == "image"
    assert single.defaults["strength"] == 0.8
    assert multi.defaults["guidance_scale"] == 2.5 and multi.defaults["steps"] == 20 and multi.defaults["seed"] == -1


def test_a_model_that_renders_as_an_unknown_endpoint_is_refused() -> None:
    raw = _raw(OPENAI)
    raw["x-mock-models"]["black-forest-labs/flux-kontext-max"]["renders_as"] = "fal-ai/nope"
    with pytest.raises(SpecError, match="unknown endpoint"):
        Spec([(FAL.as_uri(), _raw(FAL)), (OPENAI.as_uri(), raw)])


def test_without_the_fal_document_the_relative_ref_fails_clearly() -> None:
    raw = _raw(OPENAI)
    for entry in raw["x-mock-models"].values():
        del entry["renders_as"]
    with pytest.raises(SpecError, match=r"fal-kontext\.yaml"):
        Spec([(OPENAI.as_uri(), raw)])


def test_a_seed_gives_the_same_pixels_on_both_apis(instant: MockServer) -> None:
    prompt, seed = "A lighthouse at dusk", 1234
    fal = httpx.post(
        f"{instant.url}/run/fal-ai/flux-pro/kontext/max/text-to-image",
        json={"prompt": prompt, "seed": seed, "aspect_ratio": "16:9", "output_format": "png"},
        timeout=30,
    )
    assert fal.status_code == 200, fal.text
    fal_bytes = httpx.get(fal.json()["images"][0]["url"]).content
    oai = httpx.post(
        f"{instant.url}/v1/images/generations",
        json={"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": prompt, "seed": seed,
              "aspect_ratio": "16:9", "response_format": "b64_json"},
        timeout=30,
    )
    assert oai.status_code == 200, oai.text
    assert base64.b64decode(oai.json()["data"][0]["b64_json"].partition(",")[2]) == fal_bytes


def test_the_plain_b64_option_reaches_the_settings() -> None:
    parser = build_parser()
    assert settings_from(parser.parse_args(["serve"])).b64_data_uri is True
    assert settings_from(parser.parse_args(["serve", "--plain-b64-json"])).b64_data_uri is False
