"""Text that stands for a number or a yes/no: from a query string, a header, a form or the command line.

Every place that reads such text goes through here, so ``"1e3"``, ``" 7 "``
or ``"On"`` mean the same thing wherever they arrive.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

_INTEGER = re.compile(r"[+-]?\d{1,18}")  # past 18 digits it stays text, and the schema says so
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_BOOLEANS = {"true": True, "false": False}
# What a yes/no query flag (fal's ``?logs=``) takes as yes, in any case; anything else is no.
TRUE_WORDS = ("1", "true", "yes", "on")


def typed(text: Any, kind: Any) -> Any:
    """``text`` as the JSON Schema type ``kind`` names, when it reads as one; else unchanged,
    so that the schema reports the wrong type."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if kind == "integer" and _INTEGER.fullmatch(stripped):
        return int(stripped)
    if kind == "number" and _NUMBER.fullmatch(stripped):
        return float(stripped)
    if kind == "boolean" and stripped.lower() in _BOOLEANS:
        return _BOOLEANS[stripped.lower()]
    return text


def is_true(text: str | None) -> bool:
    """Whether a yes/no flag says yes (absent says no)."""
    return text is not None and text.strip().lower() in TRUE_WORDS


def int_or(text: str | None, default: int) -> int:
    """An integer the spec has already checked the form of, or ``default`` when absent or empty."""
    return int(text) if text else default


def non_negative_float(text: str) -> float:
    """A command-line number of at least 0 (for argparse's ``type=``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:  # (NaN is not either)
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def positive_int(text: str) -> int:
    """A command-line count of at least 1 (for argparse's ``type=``)."""
    return _int_within(text, 1, None)


def port_number(text: str) -> int:
    """A TCP port, 0 (pick a free one) to 65535 (for argparse's ``type=``)."""
    return _int_within(text, 0, 65535)


def _int_within(text: str, low: int, high: int | None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if high is not None and not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{value} is not in {low}-{high}")
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} must be >= {low}")
    return value
