"""JSON text as the mock reads it from clients: strict about what JSON cannot say.

Python's reader takes ``NaN`` and ``Infinity`` and turns a number past a
double's range (``1e400``) into infinity; none of them is a JSON number, none
could be written back as one, and the mock's answers and journal would
otherwise say them as ``null`` or not at all. So all three are refused here,
as a decode error, wherever a client's JSON is read.
"""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Callable
from typing import Any


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:24]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)
# The decoder's scanner (C where available) and JSON's whitespace, called straight: JSONDecoder.decode
# and raw_decode are two Python frames around them on every body, saying the same in the same words.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]
_SPACE = " \t\n\r"  # JSON's whitespace, as the decoder skips it


def decode(text: str) -> Any:
    """One JSON value, with only whitespace around it (``json.JSONDecodeError`` if not;
    ``ValueError`` for NaN, Infinity or a number out of range; ``RecursionError`` if too deep)."""
    start = len(text) - len(text.lstrip(_SPACE))  # (lstrip hands back the text itself when it has none)
    try:
        value, end = _SCAN(text, start)
    except StopIteration as stop:
        raise json.JSONDecodeError("Expecting value", text, stop.value) from None
    if end != len(text):
        rest = text[end:]
        end += len(rest) - len(rest.lstrip(_SPACE))
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return value


def loads(data: bytes) -> Any:
    """:func:`decode` of UTF-8 bytes (``UnicodeDecodeError``, a ValueError, if they are not)."""
    return decode(data.decode("utf-8"))
