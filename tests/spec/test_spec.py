"""The spec itself: valid OpenAPI, self-consistent examples, and the mock's extensions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate as validate_openapi

from mockserver.http.app import HANDLERS
from mockserver.spec.documents import SpecDocument, SpecError
from mockserver.spec.loader import Spec, default_spec, default_spec_paths
from mockserver.spec.roles import Role
from mockserver.spec.yaml_files import SafeLoader, load_yaml, read_yaml

SPEC_FILES = default_spec_paths()


def test_there_are_spec_files() -> None:
    assert any(p.name == "fal-kontext.yaml" for p in SPEC_FILES)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_spec_is_valid_openapi(path: Path) -> None:
    validate_openapi(read_yaml(path), base_uri=path.resolve().as_uri())


ROOT = Path(__file__).resolve().parents[2]
YAML_FILES = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("fixtures/**/*.yaml"), *ROOT.glob("examples/**/*.yaml")])


def test_spec_and_fixtures_are_read_with_libyaml_where_pyyaml_has_it() -> None:
    assert issubclass(SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("base: &b {a: 1, b: 2}\nx: {<<: *b, b: 3}\n", {"base": {"a": 1, "b": 2}, "x": {"a": 1, "b": 3}}),
        ("x: {<<: [{a: 1}, {a: 2}]}\n", {"x": {"a": 1}}),
    ],
)
def test_merge_keys_still_read_as_yaml_says(text: str, read: object) -> None:
    # What a merge brings in may be overridden: that is no key given twice.
    assert load_yaml(text) == read == yaml.safe_load(text)


def test_a_list_as_a_key_is_a_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError, match="unhashable"):
        load_yaml("? [a, b]\n: 1\n")


def test_a_key_given_twice_stops_the_spec_from_loading(tmp_path: Path) -> None:
    # PyYAML alone keeps the last of two keys: a second `parameters:` block once hid the first.
    twice = (ROOT / "specs" / "fal-platform.yaml").read_text(encoding="utf-8").replace(
        "\ncomponents:\n", "\ncomponents:\n  responses: {}\n", 1
    )
    path = tmp_path / "fal-platform.yaml"
    path.write_text(twice, encoding="utf-8")
    with pytest.raises(yaml.YAMLError, match="found the key 'responses' twice"):
        read_yaml(path)
    with pytest.raises(SpecError, match="responses"):
        Spec.load([*(p for p in default_spec_paths() if p.name != path.name), path])


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_c_and_python_yaml_readers_build_the_same_document(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    read = yaml.load(text, Loader=SafeLoader)
    assert read == yaml.load(text, Loader=yaml.SafeLoader)
    assert repr(read) == repr(yaml.load(text, Loader=yaml.SafeLoader))  # the same types too (1 vs 1.0, dates)


def _examples(node: Any, pointer: str) -> Iterator[tuple[str, str, Any]]:
    """(pointer of the schema, where the example sits, example value) for every example with a schema beside it."""
    if isinstance(node, dict):
        if "schema" in node:
            schema_ptr = f"{pointer}/schema"
            if "example" in node:
                yield schema_ptr, f"{pointer}/example", node["example"]
            for name, example in node.get("examples", {}).items():
                if isinstance(example, dict) and "value" in example:
                    yield schema_ptr, f"{pointer}/examples/{name}", example["value"]
        for key, value in node.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            yield from _examples(value, f"{pointer}/{escaped}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _examples(value, f"{pointer}/{index}")


def _schema_examples(doc: SpecDocument) -> Iterator[tuple[str, str, Any]]:
    for name, schema in doc.raw.get("components", {}).get("schemas", {}).items():
        pointer = f"/components/schemas/{name}"
        if "example" in schema:
            yield pointer, f"{pointer}/example", schema["example"]
        for index, value in enumerate(schema.get("examples", [])):
            yield pointer, f"{pointer}/examples/{index}", value


SPEC = default_spec()
EXAMPLES = [
    (doc, schema_ptr, where, value)
    for doc in SPEC.documents
    for schema_ptr, where, value in [*_examples(doc.raw, ""), *_schema_examples(doc)]
]


def test_examples_were_found() -> None:
    # Guards the walker: if it found nothing, the test below would pass vacuously.
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("doc", "schema_ptr", "where", "value"), EXAMPLES, ids=[e[2] for e in EXAMPLES])
def test_every_example_validates_against_its_schema(doc: SpecDocument, schema_ptr: str, where: str, value: Any) -> None:
    errors = [e.message for e in SPEC.validator(doc, schema_ptr).iter_errors(value)]
    assert errors == [], f"{where} does not match {schema_ptr}"


def test_every_handler_named_in_the_spec_exists() -> None:
    assert {op.handler for op in SPEC.operations} <= set(HANDLERS)


def test_the_reference_endpoints_are_all_served() -> None:
    served = {op.model.endpoint_id for op in SPEC.models() if op.model}
    assert served >= {
        "fal-ai/flux-pro/kontext/max",
        "fal-ai/flux-pro/kontext/max/multi",
        "fal-ai/flux-pro/kontext/text-to-image",
        "fal-ai/flux-pro/kontext/max/text-to-image",
        "fal-ai/flux-pro/kontext",
        "fal-ai/flux-pro/kontext/multi",
    }


@pytest.mark.parametrize("op", SPEC.models(), ids=lambda op: op.operation_id)
def test_model_roles_cover_what_the_mock_needs(op: Any) -> None:
    roles = set(op.model.fields)
    assert {"prompt", "seed", "num_images", "output_format", "aspect_ratio", "sync_mode"} <= roles
    edits = "text-to-image" not in op.model.endpoint_id
    assert ("image_input" in roles) is edits
    # every size in the table is a real aspect ratio of the enum it decorates
    sizes = op.model.sizes
    assert set(sizes) == set(op.model.field(Role.ASPECT_RATIO).schema["enum"])
    for ratio, (width, height) in sizes.items():
        w, h = (int(x) for x in ratio.split(":"))
        assert abs(width / height - w / h) < 0.1, ratio


def test_the_gateway_placeholder_aspect_ratio_is_rejected() -> None:
    op = SPEC.model("fal-ai/flux-pro/kontext/max")
    assert op is not None
    pointer = op.body_schema_pointer()
    assert pointer is not None
    body = {"prompt": "p", "image_url": "https://example.com/a.png", "aspect_ratio": "string"}
    errors = list(SPEC.validator(op.document, pointer).iter_errors(body))
    assert [list(e.absolute_path) for e in errors] == [["aspect_ratio"]]


def test_the_mocks_own_prefix_is_the_extension_documents() -> None:
    extension = [doc for doc in SPEC.documents if doc.is_extension]
    assert [doc.path_prefix for doc in extension] == [SPEC.admin_prefix]
    assert all(op.is_extension for op in SPEC.operations if op.document in extension)
    assert all(op.is_extension == bool(op.raw.get("x-mock-extension")) for op in SPEC.operations
               if op.document not in extension)


def test_a_spec_without_the_mocks_own_routes_does_not_start() -> None:
    without = Spec.load([p for p in default_spec_paths() if p.name != "mock-admin.yaml"])
    with pytest.raises(SpecError, match="x-mock-path-prefix"):
        _ = without.admin_prefix


def test_an_operation_s_parameters_are_resolved_once_and_as_a_fresh_reading_gives_them() -> None:
    spec = default_spec()
    for op in spec.operations:
        item = op.document.raw["paths"][op.path]
        fresh = [spec.resolve(p, op.document) for p in [*item.get("parameters", []), *op.raw.get("parameters", [])]]
        assert list(op.parameters()) == fresh, op.operation_id
        assert op.parameters() is op.parameters()
    assert any(op.parameters() for op in spec.operations)
