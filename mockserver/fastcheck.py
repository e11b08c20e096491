"""A compiled yes/no check for the JSON Schema subset the spec's bodies use.

jsonschema walks a schema generically for every request; for a valid body
(the common case) that walk is most of a submit's cost. This module turns a
schema, once, into nested closures that answer only "valid or not". A body
that fails is handed to jsonschema for the full, worded list of problems, so
the error answers are unchanged; a schema that uses any keyword outside the
subset gets no compiled check at all (``compile_check`` returns None) and is
validated by jsonschema alone.

The property tests hold this check to jsonschema's verdict on generated
bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from typing import Any, cast

from jsonschema import FormatChecker

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({
    "description", "title", "default", "examples", "example", "deprecated", "readOnly", "writeOnly",
    "$comment", "contentMediaType", "contentEncoding", "$schema",
})


class Unsupported(Exception):
    """The schema uses a keyword this module does not compile."""


def compile_check(schema: Any, format_checker: FormatChecker | None) -> Check | None:
    try:
        return _compile(schema, format_checker)
    except Unsupported:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return bool(a == b)


def _compile(schema: Any, fc: FormatChecker | None) -> Check:
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, Mapping):
        raise Unsupported(repr(schema))
    checks: list[Check] = []
    for key, value in schema.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        make = _KEYWORDS.get(key)
        if make is None:
            raise Unsupported(key)
        checks.append(make(value, schema, fc))
    if len(checks) == 1:
        return checks[0]

    def every(v: Any) -> bool:
        for c in checks:  # noqa: SIM110 - a plain loop beats all() over a generator here
            if not c(v):
                return False
        return True

    return every


def _type(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    names = value if isinstance(value, list) else [value]
    try:
        tests = [_TYPES[n] for n in names]
    except (KeyError, TypeError):
        raise Unsupported(f"type {value!r}") from None
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


def _enum(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    if not isinstance(value, list):
        raise Unsupported("enum")
    if all(isinstance(m, str) for m in value):
        members = frozenset(value)
        return lambda v: isinstance(v, str) and v in members
    return lambda v: any(_equal(v, m) for m in value)


def _const(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    return lambda v: _equal(v, value)


def _bound(op: Callable[[Any, Any], bool]) -> Callable[[Any, Mapping[str, Any], FormatChecker | None], Check]:
    def make(limit: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
        if not _is_number(limit):
            raise Unsupported("bound")
        return lambda v: not _is_number(v) or op(v, limit)

    return make


Maker = Callable[[Any, Mapping[str, Any], FormatChecker | None], Check]


def _sized(kind: type, op: Callable[[int, int], bool]) -> Maker:
    def make(limit: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise Unsupported("size")
        return lambda v: not isinstance(v, kind) or op(len(cast(Sized, v)), limit)

    return make


def _required(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    names = tuple(value)
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _properties(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    if not isinstance(value, Mapping):
        raise Unsupported("properties")
    subs = {name: _compile(sub, fc) for name, sub in value.items()}

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for name, item in v.items():
            sub = subs.get(name)
            if sub is not None and not sub(item):
                return False
        return True

    return check


def _additional(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = frozenset(schema.get("properties", {}))
    sub = _compile(value, fc)
    return lambda v: not isinstance(v, dict) or all(sub(item) for name, item in v.items() if name not in known)


def _items(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    sub = _compile(value, fc)
    return lambda v: not isinstance(v, list) or all(sub(item) for item in v)


def _format(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    if fc is None or value not in fc.checkers:
        return lambda v: True  # jsonschema ignores formats it has no checker for
    name = str(value)
    return lambda v: fc.conforms(v, name)


def _all_of(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    subs = [_compile(s, fc) for s in value]
    return lambda v: all(s(v) for s in subs)


def _any_of(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    subs = [_compile(s, fc) for s in value]
    return lambda v: any(s(v) for s in subs)


def _one_of(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    subs = [_compile(s, fc) for s in value]
    return lambda v: sum(1 for s in subs if s(v)) == 1


def _not(value: Any, schema: Mapping[str, Any], fc: FormatChecker | None) -> Check:
    sub = _compile(value, fc)
    return lambda v: not sub(v)


_KEYWORDS: dict[str, Callable[[Any, Mapping[str, Any], FormatChecker | None], Check]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minimum": _bound(lambda v, lim: v >= lim),
    "maximum": _bound(lambda v, lim: v <= lim),
    "exclusiveMinimum": _bound(lambda v, lim: v > lim),
    "exclusiveMaximum": _bound(lambda v, lim: v < lim),
    "minLength": _sized(str, lambda n, lim: n >= lim),
    "maxLength": _sized(str, lambda n, lim: n <= lim),
    "minItems": _sized(list, lambda n, lim: n >= lim),
    "maxItems": _sized(list, lambda n, lim: n <= lim),
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "format": _format,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
}
