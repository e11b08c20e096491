"""Property tests: the fast validity check (jsonschema_rs) agrees with
jsonschema, and any valid request renders images of the stated size and format."""

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
from mockserver.http.app import retention_of
from mockserver.http.routes.files import FILE_HANDLER
from mockserver.sim.clock import ManualClock
from mockserver.sim.queue import JobQueue
from mockserver.spec.documents import Operation
from mockserver.spec.file_links import FileLinks
from mockserver.spec.formats import FORMAT_CHECKER
from mockserver.spec.loader import default_spec
from mockserver.spec.roles import Role
from mockserver.spec.validation import validate
from mockserver.spec.validity import available, build_check

SPEC = default_spec()
# Without jsonschema_rs there is no check to hold to jsonschema's verdict.
needs_check = pytest.mark.skipif(not available(), reason="jsonschema_rs is not installed")
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


@needs_check
@pytest.mark.parametrize("op", MODELS, ids=lambda op: op.operation_id)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_check_agrees_with_jsonschema(op: Operation, data: st.DataObject) -> None:
    schema = body_schema(op)
    check = build_check(schema)
    assert check is not None
    validator = SPEC.validator(op.document, op.body_schema_pointer() or "")
    instance = data.draw(near_valid(schema))
    assert check(instance) == validator.is_valid(instance), instance


# Schemas beyond the spec's bodies, using every keyword the check takes, nested.
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
    # Python's re against Rust's: \d, \w and \s are wider in Python, and $ also matches before a final newline.
    {
        "properties": {
            "d": {"pattern": "^\\d+$"}, "w": {"pattern": "^\\w\\W$"},
            "s": {"pattern": "^\\s$"}, "a": {"pattern": "^a$"},
        },
    },
    {
        "properties": {
            "a": {"format": "regex"}, "b": {"format": "date-time"}, "c": {"format": "email"}, "d": {"format": "uri"},
        },
    },
    {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 3,
        "propertyNames": {"pattern": "^[a-g]$"},
        "if": {"required": ["a"]},
        "then": {"properties": {"a": {"type": "integer", "maximum": 9007199254740992}}},
        "else": {"properties": {"b": {"uniqueItems": True}}},
        "allOf": [{"properties": {"c": {"minimum": 1e20}}}],
        "unevaluatedProperties": {"type": ["number", "string", "array"]},
    },
]
EDGE_STRINGS = [
    "", "x", "ab", "abcd", "k", "a", "a\n", "g", "https://mock.test/a.png", "no uri", "data:,", "data:x",
    "\u0663\u0664", "12", "\u00e9 ", "e\u0301", "\U0001f600", "\ufeff", "a\u00a0", "x\u2028",
    "(", "[a-", "\\d", "2024-01-02T03:04:05Z", "2024-13-02T03:04:05", "a@b.c",
]
EDGE_NUMBERS = [
    0.0, 2.0, 4.5, -1.5, 1e300, 5.0, 2**53, 2**53 + 1, 2.0**53, 2**64, 2**64 + 1, -(2**70), 10**20, 10**20 + 1, 1e20,
    5e-324, 1.7976931348623157e308, 2**70,
]


@needs_check
@pytest.mark.parametrize("schema", RICH_SCHEMAS, ids=[f"schema{n}" for n in range(len(RICH_SCHEMAS))])
@settings(max_examples=300, deadline=None)
@given(
    instance=st.recursive(
        st.none() | st.booleans() | st.integers(-3, 8) | st.sampled_from(EDGE_NUMBERS) | st.sampled_from(EDGE_STRINGS)
        | st.text(max_size=4),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from([*"abcdefgknswz"]), inner, max_size=4),
        max_leaves=10,
    )
)
def test_fast_check_agrees_with_jsonschema_on_every_keyword(schema: dict[str, Any], instance: Any) -> None:
    check = build_check(schema)
    assert check is not None
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    assert check(instance) == validator.is_valid(instance), instance


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/x"},
        {"type": "object", "patternProperties": {"a": {}}, "additionalProperties": False},
        {"type": "array", "prefixItems": [{}], "items": False},
        {"type": "number", "multipleOf": 0.1},  # 0.3: jsonschema says no, jsonschema_rs yes
        {"type": "custom"},
        {"properties": {"a": {"format": 3}}},
    ],
)
def test_schemas_outside_the_tested_keywords_get_no_check(schema: dict[str, Any]) -> None:
    assert build_check(schema) is None


@needs_check
@pytest.mark.parametrize("keyword", ["items", "additionalProperties"])
def test_deeply_nested_schemas_are_checked(keyword: str) -> None:
    schema: dict[str, Any] = {"type": "integer"}
    instance: Any = 1
    wrong: Any = "x"
    for _ in range(60):
        schema = {"type": "array" if keyword == "items" else "object", keyword: schema}
        instance = [instance] if keyword == "items" else {"k": instance}
        wrong = [wrong] if keyword == "items" else {"k": wrong}
    check = build_check(schema)
    assert check is not None and check(instance) and not check(wrong)
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    assert validate(validator, instance) == []
    assert validate(validator, wrong)


@needs_check
def test_fast_check_keeps_json_types_apart() -> None:
    check = build_check({"enum": [1, "a", None]})
    assert check is not None
    assert check(1) and check(1.0) and check("a") and check(None)
    assert not check(True) and not check(0) and not check([1])
    integer = build_check({"type": "integer", "minimum": 1})
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

    settings = Settings(time_scale=0)
    queue = JobQueue(settings, ManualClock(), FileLinks.of(SPEC, FILE_HANDLER), retention_of(SPEC, settings))
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


# One keyword at a time, against every edge value: where Python and Rust read numbers, strings and patterns differently.
EDGE_SCHEMAS: list[dict[str, Any]] = [
    {"pattern": "^\\d+$"}, {"pattern": "^\\w\\W$"}, {"pattern": "^\\s$"}, {"pattern": "^a$"}, {"pattern": "(?i)^A"},
    {"format": "regex"}, {"format": "date-time"}, {"format": "uri"}, {"format": "email"}, {"format": "uuid"},
    {"type": "integer"}, {"type": "number"}, {"type": "string"},
    {"maximum": 2**53}, {"maximum": 1e20}, {"exclusiveMaximum": 10**20}, {"minimum": 2**64}, {"exclusiveMinimum": 0},
    {"enum": [2**53, 10**20, 1e20, 2**70, "a", 5]}, {"const": 2.0**53}, {"const": 1},
    {"minLength": 2}, {"maxLength": 1}, {"uniqueItems": True},
]
# Where the check says "no" and jsonschema "yes", jsonschema has the last word (validate asks it):
# a lone surrogate jsonschema_rs cannot read, and a float equal to an integer enum member past 2**64.
DOUBTFUL_NO = ["\ud800", 2.0**70]
EDGE_VALUES: list[Any] = [
    *EDGE_STRINGS, *DOUBTFUL_NO, *EDGE_NUMBERS, True, False, None, [], {},
    [1, 1.0], [1, True], [0, False], [{"a": 1}, {"a": 1.0}],
]


@needs_check
@pytest.mark.parametrize("schema", EDGE_SCHEMAS, ids=[str(s) for s in EDGE_SCHEMAS])
def test_fast_check_agrees_with_jsonschema_on_edge_values(schema: dict[str, Any]) -> None:
    check = build_check(schema)
    assert check is not None
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    disagree = [value for value in EDGE_VALUES if check(value) != validator.is_valid(value)]
    assert all(not check(value) and value in DOUBTFUL_NO for value in disagree), disagree
    # validate() is what the mock answers with: the same verdict as jsonschema's on every value.
    assert [validate(validator, v) == [] for v in EDGE_VALUES] == [validator.is_valid(v) for v in EDGE_VALUES]
