"""A fast yes/no validity check, in front of jsonschema's worded errors.

For a valid body (the common case) jsonschema's walk is most of a submit's
cost; jsonschema_rs, built once per schema, answers "valid or not" far
faster. A body it calls valid is accepted; any other goes to jsonschema,
which words the errors and has the last word, so a doubtful "no" costs time,
never a wrong answer.

jsonschema_rs is made to judge as jsonschema with ``FORMAT_CHECKER`` does:

- formats are our own functions (``formats.py``), and a format that checker
  does not know is not checked at all, as jsonschema skips it;
- ``pattern`` is Python's ``re.search``: Rust's ECMA-style expressions read
  ``\\d``, ``\\w``, ``\\s`` and ``$`` differently;
- a schema using a keyword outside ``_KEYWORDS`` (whose agreement
  tests/spec/test_properties.py tests), or a ``$ref`` the loader could not write
  in place, gets no check, and jsonschema alone decides;
- an instance jsonschema_rs cannot take (a lone surrogate, a key that is not
  a string) gets "no", and so jsonschema's verdict.

Where jsonschema_rs is not installed there is no check either: the same
answers, from jsonschema alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from mockserver.spec.formats import FORMAT_CHECKER

jsonschema_rs: ModuleType | None
try:
    import jsonschema_rs
except ImportError:  # no wheel for this platform: jsonschema alone
    jsonschema_rs = None

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({
    "description", "title", "default", "examples", "example", "deprecated", "readOnly", "writeOnly",
    "$comment", "contentMediaType", "contentEncoding", "$schema",
})
# Keywords whose value is data, not a schema.
_VALUES = frozenset({
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "required",
    "uniqueItems", "format", "pattern",
})
_ONE_SCHEMA = frozenset({
    "items", "additionalProperties", "unevaluatedProperties", "propertyNames", "not", "if", "then", "else",
})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_MAPS = frozenset({"properties"})
_KEYWORDS = _VALUES | _ONE_SCHEMA | _SCHEMA_LISTS | _SCHEMA_MAPS


class _Unsupported(Exception):
    pass


def available() -> bool:
    """Whether jsonschema_rs could be imported (without it, no schema gets a check)."""
    return jsonschema_rs is not None


def build_check(schema: Any) -> Check | None:
    """The yes/no check for ``schema``, or None where jsonschema must judge alone."""
    if jsonschema_rs is None:
        return None
    try:
        format_names = set(_format_names(schema))
    except _Unsupported:
        return None
    formats = {name: _format_function(name) for name in format_names}
    try:
        validator = jsonschema_rs.Draft202012Validator(
            schema, formats=formats, validate_formats=True, keywords={"pattern": _PythonPattern}
        )
    except Exception:  # a schema jsonschema_rs refuses or cannot take: jsonschema alone
        return None
    is_valid = validator.is_valid

    def check(instance: Any) -> bool:
        try:
            return bool(is_valid(instance))
        except Exception:  # not an instance jsonschema_rs can read: let jsonschema decide
            return False

    return check


def _format_names(node: Any) -> Iterator[str]:
    """Every ``format`` the schema names; raises _Unsupported at a keyword outside the tested set."""
    if isinstance(node, bool):
        return
    if not isinstance(node, Mapping):
        raise _Unsupported
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key not in _KEYWORDS:
            raise _Unsupported(key)
        if key == "format":
            if not isinstance(value, str):
                raise _Unsupported(key)
            yield value
        elif key in _ONE_SCHEMA:
            yield from _format_names(value)
        elif key in _SCHEMA_LISTS:
            if not isinstance(value, list):
                raise _Unsupported(key)
            for item in value:
                yield from _format_names(item)
        elif key in _SCHEMA_MAPS:
            if not isinstance(value, Mapping):
                raise _Unsupported(key)
            for item in value.values():
                yield from _format_names(item)


def _format_function(name: str) -> Callable[[str], bool]:
    if name not in FORMAT_CHECKER.checkers:
        return lambda value: True  # jsonschema's checker skips a format it does not know
    return lambda value: FORMAT_CHECKER.conforms(value, name)


class _PythonPattern:
    """``pattern`` as jsonschema reads it: Python's ``re.search`` on strings."""

    def __init__(self, parent_schema: Any, value: Any, schema_path: Any) -> None:
        self._search = re.compile(value).search

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and self._search(instance) is None:
            raise ValueError("does not match the pattern")
