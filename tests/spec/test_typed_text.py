"""One reading of typed text, whether it comes from a query, a header, a form or the command line."""

from __future__ import annotations

import argparse

import pytest

from mockserver.spec.typed_text import int_or, is_true, non_negative_float, port_number, positive_int, typed


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("7", "integer", 7),
        (" -7 ", "integer", -7),
        ("+7", "integer", 7),
        ("1_0", "integer", "1_0"),  # Python's int() would say 10; the schema says "not an integer"
        ("²", "integer", "²"),  # a digit to str.isdigit, not to int()
        ("1" * 19, "integer", "1" * 19),
        ("7\n", "integer", 7),
        ("1e3", "number", 1000.0),
        (".5", "number", 0.5),
        ("nan", "number", "nan"),
        ("inf", "number", "inf"),
        ("True", "boolean", True),
        ("false", "boolean", False),
        ("yes", "boolean", "yes"),
        ("7", "string", "7"),
        ("7", None, "7"),
        (7, "integer", 7),
    ],
)
def test_typed_reads_what_the_schema_type_names_or_leaves_the_text(text: object, kind: object, value: object) -> None:
    assert typed(text, kind) == value
    assert type(typed(text, kind)) is type(value)


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("1", True),
        ("TRUE", True),
        (" on ", True),
        ("yes", True),
        ("0", False),
        ("false", False),
        ("", False),
        (None, False),
    ],
)
def test_is_true(text: str | None, yes: bool) -> None:
    assert is_true(text) is yes


def test_int_or_takes_the_default_for_nothing() -> None:
    assert int_or(None, 5) == 5 and int_or("", 5) == 5 and int_or("12", 5) == 12


def test_command_line_numbers_are_checked() -> None:
    assert non_negative_float("0") == 0.0 and positive_int("3") == 3
    for bad in ("-1", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
            non_negative_float(bad)
    with pytest.raises(argparse.ArgumentTypeError, match=">= 1"):
        positive_int("0")
    with pytest.raises(argparse.ArgumentTypeError, match="'x' is not a whole number"):
        positive_int("x")
    with pytest.raises(argparse.ArgumentTypeError, match="'fast' is not a number"):
        non_negative_float("fast")
    assert port_number("0") == 0 and port_number("65535") == 65535
    for bad in ("-1", "65536"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not in 0-65535"):
            port_number(bad)
