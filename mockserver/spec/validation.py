"""Request validation: schema errors turned into fal's FastAPI-style issues.

The rules themselves live in the spec; this module only words the failures
the way fal's servers do (``loc``/``msg``/``type``, one entry per field), so a
client sees every problem in one answer.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jsonschema import Draft202012Validator, ValidationError

from mockserver.spec.validity import Check, build_check

Loc = tuple[str | int, ...]

_TYPE_WORDS = {
    "integer": ("value is not a valid integer", "type_error.integer"),
    "number": ("value is not a valid float", "type_error.float"),
    "string": ("str type expected", "type_error.str"),
    "boolean": ("value could not be parsed to a boolean", "type_error.bool"),
    "array": ("value is not a valid list", "type_error.list"),
    "object": ("value is not a valid dict", "type_error.dict"),
    "null": ("value is not none", "type_error.none.allowed"),
}
_BOUNDS = {
    "minimum": ("ensure this value is greater than or equal to {}", "value_error.number.not_ge"),
    "maximum": ("ensure this value is less than or equal to {}", "value_error.number.not_le"),
    "exclusiveMinimum": ("ensure this value is greater than {}", "value_error.number.not_gt"),
    "exclusiveMaximum": ("ensure this value is less than {}", "value_error.number.not_lt"),
    "minItems": ("ensure this value has at least {} items", "value_error.list.min_items"),
    "maxItems": ("ensure this value has at most {} items", "value_error.list.max_items"),
    "minLength": ("ensure this value has at least {} characters", "value_error.any_str.min_length"),
    "maxLength": ("ensure this value has at most {} characters", "value_error.any_str.max_length"),
}

# Newer fal servers link each item to the page of the validation library that explains it
# (FastAPI's pydantic); its pages are named by that library's own error names.
ERROR_PAGE: Final = "https://errors.pydantic.dev/2.10/v/{}"
_PAGE_NAMES = {
    "value_error.missing": "missing",
    "value_error.extra": "extra_forbidden",
    "type_error.integer": "int_type",
    "type_error.float": "float_type",
    "type_error.str": "string_type",
    "type_error.bool": "bool_type",
    "type_error.list": "list_type",
    "type_error.dict": "dict_type",
    "type_error.none.allowed": "none_required",
    "type_error.enum": "enum",
    "value_error.const": "literal_error",
    "value_error.number.not_ge": "greater_than_equal",
    "value_error.number.not_le": "less_than_equal",
    "value_error.number.not_gt": "greater_than",
    "value_error.number.not_lt": "less_than",
    "value_error.list.min_items": "too_short",
    "value_error.list.max_items": "too_long",
    "value_error.any_str.min_length": "string_too_short",
    "value_error.any_str.max_length": "string_too_long",
    "value_error.url.scheme": "url_parsing",
    "value_error.jsondecode": "json_invalid",
}


class _NoInput:
    """An issue with no offending value to quote (a header that is absent, a body that is not JSON)."""

    def __repr__(self) -> str:
        return "NO_INPUT"


NO_INPUT: Final = _NoInput()
# An error quotes the value it is about; a data URI can be megabytes, so long texts are cut.
_QUOTE_CHARS = 200
_QUOTE_DEPTH = 4
_QUOTE_ITEMS = 50


@dataclass(frozen=True)
class Issue:
    """One failing field, in fal's words."""

    loc: Loc
    msg: str
    type: str
    ctx: Mapping[str, Any] | None = field(default=None, compare=False)
    input: Any = field(default=NO_INPUT, compare=False)  # the value at ``loc`` (for a missing field, its parent)

    def at(self, loc: Loc) -> Issue:
        """The same issue at another location (a field renamed, or nested under a prefix)."""
        return dataclasses.replace(self, loc=loc)

    def as_json(self) -> dict[str, Any]:
        """The item as fal's servers write it: ``loc``, ``msg``, ``type``, and the ``ctx``, ``input``
        and ``url`` keys newer ones add (``ctx`` only where the check has a parameter)."""
        out: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": self.type}
        if self.ctx:
            out["ctx"] = dict(self.ctx)
        if self.input is not NO_INPUT:
            out["input"] = quoted(self.input)
        page = _PAGE_NAMES.get(self.type) or ("value_error" if self.type.startswith("value_error") else None)
        out["url"] = ERROR_PAGE.format(page or "is_instance_of")
        return out

    @property
    def field_path(self) -> str:
        """``num_images`` or ``image_urls[2]``: the location without its root."""
        text = ""
        for part in self.loc[1:]:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text or str(self.loc[0])


_CHECKS: OrderedDict[int, tuple[Draft202012Validator, Check | None]] = OrderedDict()
_CHECKS_MAX = 1024


def fast_check(validator: Draft202012Validator) -> Check | None:
    """The yes/no check for ``validator``'s schema, built once (None: jsonschema judges alone)."""
    key = id(validator)  # the entry keeps the validator alive, so the id stays its own
    entry = _CHECKS.get(key)
    if entry is None:
        entry = (validator, build_check(validator.schema))
        _CHECKS[key] = entry
        if len(_CHECKS) > _CHECKS_MAX:
            _CHECKS.popitem(last=False)
    return entry[1]


def validate(validator: Draft202012Validator, instance: Any, root: str = "body") -> list[Issue]:
    """Every failing field of ``instance``, worded as fal words them (empty: valid)."""
    check = fast_check(validator)
    if check is not None and check(instance):
        return []  # valid: no need for jsonschema's slower, worded walk
    issues: list[Issue] = []
    for error in validator.iter_errors(instance):
        issues.extend(_issues_for(error, (root,)))
    # A value of the wrong type fails its enum and bounds too; the type is the news.
    mistyped = {i.loc for i in issues if _is_type_issue(i)}
    kept = [i for i in issues if i.loc not in mistyped or _is_type_issue(i)]
    unique = dict.fromkeys(kept)  # keeps order, drops repeats
    return sorted(unique, key=lambda i: [str(p) for p in i.loc])


def quoted(value: Any, depth: int = 0) -> Any:
    """``value`` as an error may quote it: long texts cut, deep or long containers elided."""
    if isinstance(value, str):
        return value if len(value) <= _QUOTE_CHARS else f"{value[:_QUOTE_CHARS]}… ({len(value)} characters)"
    if isinstance(value, Mapping):
        if depth >= _QUOTE_DEPTH:
            return "{…}"
        items = list(value.items())
        out = {str(k): quoted(v, depth + 1) for k, v in items[:_QUOTE_ITEMS]}
        if len(items) > _QUOTE_ITEMS:
            out["…"] = f"{len(items) - _QUOTE_ITEMS} more"
        return out
    if isinstance(value, (list, tuple)):
        if depth >= _QUOTE_DEPTH:
            return ["…"]
        kept = [quoted(v, depth + 1) for v in value[:_QUOTE_ITEMS]]
        return kept + ([f"… {len(value) - _QUOTE_ITEMS} more"] if len(value) > _QUOTE_ITEMS else [])
    return value


def _is_type_issue(issue: Issue) -> bool:
    return issue.type.startswith("type_error.") and issue.type != "type_error.enum"


def _issues_for(error: ValidationError, root: Loc) -> Iterable[Issue]:
    loc: Loc = root + tuple(error.absolute_path)
    kind = error.validator
    value: Any = error.validator_value
    found = error.instance
    if kind in ("anyOf", "oneOf") and error.context:
        # Name the branch that got furthest rather than "not valid under any".
        best = max(error.context, key=lambda e: len(e.absolute_path))
        yield from _issues_for(best, root)
    elif kind == "required":
        present = error.instance if isinstance(error.instance, Mapping) else {}
        for name in value:
            if name not in present:
                yield Issue((*loc, name), "field required", "value_error.missing", input=found)
    elif kind == "type":
        expected = value[0] if isinstance(value, list) else value
        msg, code = _TYPE_WORDS.get(str(expected), (error.message, "type_error"))
        yield Issue(loc, msg, code, input=found)
    elif kind == "enum":
        permitted = ", ".join(repr(v) for v in value)
        yield Issue(
            loc,
            f"value is not a valid enumeration member; permitted: {permitted}",
            "type_error.enum",
            {"enum_values": list(value)},
            found,
        )
    elif kind == "const":
        yield Issue(loc, f"unexpected value; permitted: {value!r}", "value_error.const", {"permitted": [value]}, found)
    elif kind in _BOUNDS:
        template, code = _BOUNDS[kind]
        yield Issue(loc, template.format(value), code, {"limit_value": value}, found)
    elif kind == "format":
        if value == "uri":
            yield Issue(loc, "invalid or missing URL scheme", "value_error.url.scheme", input=found)
        else:
            yield Issue(loc, f"value is not a valid {value}", f"value_error.{value}", input=found)
    elif kind in ("additionalProperties", "unevaluatedProperties"):
        extra = found if isinstance(found, Mapping) else {}
        for name in _extra_names(error):
            quote = extra.get(name, NO_INPUT)
            yield Issue((*loc, name), "extra fields not permitted", "value_error.extra", input=quote)
    else:
        yield Issue(loc, error.message, f"value_error.{kind}", input=found)


def _extra_names(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "unevaluatedProperties":
        # A property counts as evaluated only where the subschema declaring it passed, so one bad
        # field would make its declared neighbours "extra" too: only undeclared names are.
        declared = _declared_names(schema)
        return [name for name in instance if name not in declared]
    known = set(schema.get("properties", {}))
    return [name for name in instance if name not in known] or ["?"]


def _declared_names(schema: Mapping[str, Any]) -> set[str]:
    """The property names a schema and the subschemas it applies in place declare."""
    names = set(schema.get("properties", {}))
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, ()):
            if isinstance(sub, Mapping):
                names |= _declared_names(sub)
    return names
