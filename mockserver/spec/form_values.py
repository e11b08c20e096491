"""A multipart form field's text read as the type its schema asks for.

Forms carry only text; the OpenAI-compatible edits route and the client rules
both read a field by its model's schema, the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_BOOLEANS = {"true": True, "false": False}


def typed(value: str, schema: Mapping[str, Any]) -> Any:
    """``value`` as the type ``schema`` asks for; left as text when it does not parse."""
    kind = schema.get("type")
    text = value.strip()
    if kind == "integer" and _INTEGER.match(text):
        return int(text)
    if kind == "number" and _NUMBER.match(text):
        return float(text)
    if kind == "boolean" and text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    return value
