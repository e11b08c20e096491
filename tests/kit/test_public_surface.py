"""The contract kit reads the mock only through its public surface, ``mockserver.testing``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mockserver.testing

KIT = Path(__file__).resolve().parents[2] / "contract_tests"


def _mockserver_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mockserver":
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if alias.name.split(".")[0] == "mockserver")
    return found


@pytest.mark.parametrize("path", sorted(KIT.glob("*.py")), ids=lambda p: p.name)
def test_the_contract_kit_imports_only_the_public_surface(path: Path) -> None:
    assert set(_mockserver_imports(path)) <= {"mockserver.testing"}


def test_every_public_name_is_there() -> None:
    missing = [name for name in mockserver.testing.__all__ if not hasattr(mockserver.testing, name)]
    assert missing == []
