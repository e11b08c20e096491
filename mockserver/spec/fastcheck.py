"""A compiled yes/no check for the JSON Schema subset the spec's bodies use.

jsonschema walks a schema generically for every request; for a valid body
(the common case) that walk is most of a submit's cost. This module turns a
schema, once, into the source of one plain Python function that answers only
"valid or not": type tests, bounds and property lookups written out inline,
so checking a body costs a few dictionary lookups rather than a call per
keyword. A body that fails is handed to jsonschema for the full, worded list
of problems, so the error answers are unchanged; a schema that uses any
keyword outside the subset gets no compiled check at all (``compile_check``
returns None) and is validated by jsonschema alone.

The property tests hold this check to jsonschema's verdict on generated
bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import FormatChecker

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({
    "description", "title", "default", "examples", "example", "deprecated", "readOnly", "writeOnly",
    "$comment", "contentMediaType", "contentEncoding", "$schema",
})
_KEYWORDS = frozenset({
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "required", "properties", "additionalProperties",
    "items", "format", "allOf", "anyOf", "oneOf", "not",
})
# Each JSON type as a test of the value named {v}: JSON's integer includes 2.0 and excludes true.
_TYPE_TESTS = {
    "string": "isinstance({v}, str)",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool) or isinstance({v}, float) and {v}.is_integer())",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
    "array": "isinstance({v}, list)",
    "object": "isinstance({v}, dict)",
}
_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
_SIZES = {
    "minLength": ("str", ">="), "maxLength": ("str", "<="), "minItems": ("list", ">="), "maxItems": ("list", "<="),
}


class Unsupported(Exception):
    """The schema uses a keyword this module does not compile."""


def compile_check(schema: Any, format_checker: FormatChecker | None) -> Check | None:
    try:
        return _Source(format_checker).build(schema)
    except Unsupported:
        return None
    except (SyntaxError, RecursionError, MemoryError):
        return None  # nested deeper than Python's compiler takes (20 loops, 100 indents): jsonschema alone


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


class _Source:
    """The source of the check being written: functions, and the values they refer to by name."""

    def __init__(self, format_checker: FormatChecker | None) -> None:
        self.format_checker = format_checker
        self.names: dict[str, Any] = {"_equal": _equal, "_MISSING": object()}
        self.functions: list[list[str]] = []
        self.counter = 0

    def build(self, schema: Any) -> Check:
        main = self.function(schema)
        namespace = dict(self.names)
        exec("\n\n".join("\n".join(f) for f in self.functions), namespace)  # source written above, from the schema
        check: Check = namespace[main]
        return check

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.fresh("_c")
        self.names[name] = value
        return name

    def function(self, schema: Any) -> str:
        """A function ``name(v) -> bool`` for ``schema``; its name."""
        name = self.fresh("_check")
        lines = [f"def {name}(v):"]
        self.functions.append(lines)  # before its body, so nested functions come after it
        self.statements(schema, "v", lines, 1)
        lines.append("    return True")
        return name

    def statements(self, schema: Any, v: str, out: list[str], depth: int) -> None:
        """Lines that return False when the value named ``v`` fails ``schema``."""
        pad = "    " * depth
        if schema is True or (isinstance(schema, Mapping) and not schema):
            return
        if schema is False:
            out.append(f"{pad}return False")
            return
        if not isinstance(schema, Mapping):
            raise Unsupported(repr(schema))
        for key in schema:
            if key not in _KEYWORDS and key not in _ANNOTATIONS and not str(key).startswith("x-"):
                raise Unsupported(str(key))
        if "type" in schema:
            out.append(f"{pad}if not {self.type_test(schema['type'], v)}: return False")
        if "enum" in schema:
            out.append(f"{pad}if not {self.enum_test(schema['enum'], v)}: return False")
        if "const" in schema:
            out.append(f"{pad}if not _equal({v}, {self.constant(schema['const'])}): return False")
        for key, op in _BOUNDS.items():
            if key in schema:
                limit = schema[key]
                if not _is_number(limit):
                    raise Unsupported("bound")
                number = _TYPE_TESTS["number"].format(v=v)
                out.append(f"{pad}if {number} and not {v} {op} {self.constant(limit)}: return False")
        for key, (kind, op) in _SIZES.items():
            if key in schema:
                limit = schema[key]
                if not isinstance(limit, int) or isinstance(limit, bool):
                    raise Unsupported("size")
                out.append(f"{pad}if isinstance({v}, {kind}) and not len({v}) {op} {limit}: return False")
        if "format" in schema:
            fc = self.format_checker
            if fc is not None and schema["format"] in fc.checkers:  # jsonschema ignores formats it cannot check
                conforms = self.constant(fc.conforms)
                out.append(f"{pad}if not {conforms}({v}, {self.constant(str(schema['format']))}): return False")
        self.object_statements(schema, v, out, depth)
        if "items" in schema:  # (prefixItems, which would change its meaning, is not compiled)
            item = self.fresh("x")
            out.append(f"{pad}if isinstance({v}, list):")
            out.append(f"{pad}    for {item} in {v}:")
            before = len(out)
            self.statements(schema["items"], item, out, depth + 2)
            if len(out) == before:
                out.append(f"{pad}        pass")
        for sub in self.subschemas(schema, "allOf"):
            self.statements(sub, v, out, depth)
        if "anyOf" in schema:
            calls = [f"{self.function(s)}({v})" for s in self.subschemas(schema, "anyOf")]
            out.append(f"{pad}if not ({' or '.join(calls) or 'False'}): return False")
        if "oneOf" in schema:
            calls = [f"{self.function(s)}({v})" for s in self.subschemas(schema, "oneOf")]
            out.append(f"{pad}if ({' + '.join(calls) or '0'}) != 1: return False")
        if "not" in schema:
            out.append(f"{pad}if {self.function(schema['not'])}({v}): return False")

    def object_statements(self, schema: Mapping[str, Any], v: str, out: list[str], depth: int) -> None:
        """required, properties and additionalProperties: they apply to objects only."""
        pad = "    " * depth
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
            raise Unsupported("required")
        if not isinstance(properties, Mapping) or not all(isinstance(n, str) for n in properties):
            raise Unsupported("properties")
        if not required and not properties and "additionalProperties" not in schema:
            return
        out.append(f"{pad}if isinstance({v}, dict):")
        inner = pad + "    "
        for name in required:
            out.append(f"{inner}if {name!r} not in {v}: return False")
        for name, sub in properties.items():
            item = self.fresh("x")
            body: list[str] = []
            self.statements(sub, item, body, depth + 2)
            if body:
                out.append(f"{inner}{item} = {v}.get({name!r}, _MISSING)")
                out.append(f"{inner}if {item} is not _MISSING:")
                out.extend(body)
        if "additionalProperties" in schema:  # (patternProperties, which would narrow it, is not compiled)
            known = self.constant(frozenset(properties))
            key, item = self.fresh("k"), self.fresh("x")
            body = []
            self.statements(schema["additionalProperties"], item, body, depth + 3)
            if body:
                out.append(f"{inner}for {key}, {item} in {v}.items():")
                out.append(f"{inner}    if {key} not in {known}:")
                out.extend(body)
        out.append(f"{inner}pass")

    def type_test(self, value: Any, v: str) -> str:
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and n in _TYPE_TESTS for n in names):
            raise Unsupported(f"type {value!r}")
        return "(" + " or ".join(_TYPE_TESTS[n].format(v=v) for n in names) + ")"

    def enum_test(self, members: Any, v: str) -> str:
        if not isinstance(members, list):
            raise Unsupported("enum")
        if all(isinstance(m, str) for m in members):
            return f"(isinstance({v}, str) and {v} in {self.constant(frozenset(members))})"
        return f"any(_equal({v}, m) for m in {self.constant(list(members))})"

    @staticmethod
    def subschemas(schema: Mapping[str, Any], key: str) -> list[Any]:
        subs = schema.get(key, [])
        if not isinstance(subs, list):
            raise Unsupported(key)
        return subs
