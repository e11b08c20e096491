"""Property tests: the compiled validity check agrees with jsonschema, and any
valid request renders images of the stated size and format."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from PIL import Image

from mockserver.config import Settings
from mockserver.http.routes.files import FILE_HANDLER
from mockserver.sim.clock import ManualClock
from mockserver.sim.queue import JobQueue
from mockserver.spec.fastcheck import compile_check
from mockserver.spec.file_links import FileLinks
from mockserver.spec.formats import FORMAT_CHECKER
from mockserver.spec.loader import Operation, Spec
from mockserver.spec.roles import Role
from mockserver.spec.validation import validate

SPEC = Spec.load()
MODELS = SPEC.models()
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


def body_schema(op: Operation) -> dict[str, Any]:
    pointer = op.body_schema_pointer()
    assert pointer is not None
    schema = SPEC.validator(op.document, pointer).schema
    assert isinstance(schema, dict)
    assert "$ref" not in str(schema), "bodies are validated with their refs inlined"
    return schema


def small_image(draw: st.DrawFn) -> str:
    size = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF"]))
    buf = io.BytesIO()
    Image.new("RGB", size, (draw(st.integers(0, 255)), 90, 140)).save(buf, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


@st.composite
def image_url(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return small_image(draw)
    return draw(st.sampled_from(["https://v3.fal.media/files/a/b.png", "http://example.invalid/x.webp"]))


def valid_value(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under the small JSON Schema subset the spec's bodies use."""
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    kind = schema.get("type")
    if kind == "string":
        return image_url() if schema.get("format") == "uri" else st.text(max_size=300)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(valid_value(schema["items"]), min_size=low, max_size=max(low, schema.get("maxItems", 3)))
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: valid_value(v) for k, v in props.items() if k in required},
            optional={k: valid_value(v) for k, v in props.items() if k not in required},
        )
    raise AssertionError(f"no strategy for {schema}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def near_valid(draw: st.DrawFn, schema: Mapping[str, Any]) -> Any:
    """A valid body with a few fields broken, dropped or added: the edges a validator gets wrong."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    body = dict(draw(valid_value(schema)))
    names = [*schema.get("properties", {}), "unknown_field"]
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names))
        if draw(st.booleans()):
            body.pop(name, None)
        else:
            body[name] = draw(json_values | st.sampled_from([1, 1.0, True, 0, -1, 21, 4.5, "1:1", "jpeg", "", [], {}]))
    return body


@pytest.mark.parametrize("op", MODELS, ids=lambda op: op.operation_id)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_check_agrees_with_jsonschema(op: Operation, data: st.DataObject) -> None:
    schema = body_schema(op)
    check = compile_check(schema, FORMAT_CHECKER)
    assert check is not None
    validator = SPEC.validator(op.document, op.body_schema_pointer() or "")
    instance = data.draw(near_valid(schema))
    assert check(instance) == validator.is_valid(instance), instance


# Schemas beyond the spec's bodies, using every keyword the check compiles, nested.
RICH_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"anyOf": [{"type": "integer", "minimum": 0, "exclusiveMaximum": 5}, {"const": "x"}]},
            "b": {"type": ["string", "null"], "minLength": 1, "maxLength": 3},
            "c": {"type": "array", "items": {"enum": [1, "a", None, [1], {"k": True}]}, "minItems": 1, "maxItems": 2},
            "d": {"oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "number", "maximum": 2}]},
            "e": {"not": {"type": "boolean"}, "allOf": [{"type": ["number", "string", "array"]}]},
            "f": {"type": "object", "properties": {"g": False}, "additionalProperties": {"type": "integer"}},
        },
        "additionalProperties": False,
    },
    {"type": "array", "items": {"type": "object", "required": ["k"], "additionalProperties": True}},
    {"type": "string", "format": "uri"},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"n": {"const": 1.0}}}]},
    {},
]


@pytest.mark.parametrize("schema", RICH_SCHEMAS, ids=[f"schema{n}" for n in range(len(RICH_SCHEMAS))])
@settings(max_examples=300, deadline=None)
@given(
    instance=st.recursive(
        st.none() | st.booleans() | st.integers(-3, 8) | st.sampled_from([0.0, 2.0, 4.5, -1.5, 1e300])
        | st.sampled_from(["", "x", "ab", "abcd", "k", "a", "g", "https://mock.test/a.png", "no uri"]),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "k", "n", "z"]), inner, max_size=4),
        max_leaves=10,
    )
)
def test_compiled_check_agrees_with_jsonschema_on_every_keyword(schema: dict[str, Any], instance: Any) -> None:
    check = compile_check(schema, FORMAT_CHECKER)
    assert check is not None
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    assert check(instance) == validator.is_valid(instance), instance


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/x"},
        {"type": "string", "pattern": "a+"},
        {"type": "object", "patternProperties": {"a": {}}, "additionalProperties": False},
        {"type": "array", "prefixItems": [{}], "items": False},
        {"type": "custom"},
    ],
)
def test_uncompilable_schemas_fall_back_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_check(schema, FORMAT_CHECKER) is None


@pytest.mark.parametrize("keyword", ["items", "additionalProperties"])
def test_schemas_nested_past_what_python_compiles_fall_back_to_jsonschema(keyword: str) -> None:
    schema: dict[str, Any] = {"type": "integer"}
    instance: Any = 1
    for _ in range(30):  # a loop per level: Python's compiler takes 20
        schema = {"type": "array" if keyword == "items" else "object", keyword: schema}
        instance = [instance] if keyword == "items" else {"k": instance}
    assert compile_check(schema, FORMAT_CHECKER) is None
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    assert validate(validator, instance) == []
    assert validate(validator, [["x"]] if keyword == "items" else {"k": "x"})


def test_compiled_check_keeps_json_types_apart() -> None:
    check = compile_check({"enum": [1, "a", None]}, None)
    assert check is not None
    assert check(1) and check(1.0) and check("a") and check(None)
    assert not check(True) and not check(0) and not check([1])
    integer = compile_check({"type": "integer", "minimum": 1}, None)
    assert integer is not None
    assert integer(2.0) and not integer(True) and not integer(1.5) and not integer(0)


@pytest.mark.parametrize("op", MODELS, ids=lambda op: op.operation_id)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_valid_request_renders_images_of_the_stated_size_and_format(op: Operation, data: st.DataObject) -> None:
    assert op.model is not None
    model = op.model
    schema = body_schema(op)
    body = data.draw(valid_value(schema))
    assert SPEC.validator(op.document, op.body_schema_pointer() or "").is_valid(body)

    queue = JobQueue(Settings(time_scale=0), ManualClock(), FileLinks.of(SPEC, FILE_HANDLER))
    job = queue.submit(model, body)
    assert job.failure is None
    output = asyncio.run(queue.output(job))

    payload = {**model.defaults, **body}
    sizes = model.sizes
    ratio = payload.get(model.name_of(Role.ASPECT_RATIO) or "")
    fmt = payload.get(model.name_of(Role.OUTPUT_FORMAT) or "", "jpeg")
    count = payload.get(model.name_of(Role.NUM_IMAGES) or "", 1)
    assert len(output.images) == count
    for image in output.images:
        if payload.get(model.name_of(Role.SYNC_MODE) or ""):
            assert image.data_uri is not None and image.file_id is None
            head, _, encoded = image.data_uri.partition(",")
            assert head == f"data:{image.content_type};base64"
            drawn = base64.b64decode(encoded)
        else:
            assert image.file_id is not None
            stored = queue.files.get(image.file_id)
            assert stored is not None and stored.content_type == image.content_type
            drawn = stored.data
        decoded = Image.open(io.BytesIO(drawn))
        assert decoded.format == FORMATS[fmt]
        assert decoded.size == (image.width, image.height)
        assert image.content_type == model.content_types[fmt]
        if ratio is not None:
            assert decoded.size == sizes[ratio]
        else:  # an edit without a ratio takes the table size nearest its input's shape
            assert decoded.size in sizes.values()
