"""Reading YAML: libyaml's C parser where PyYAML was built with it, the pure-Python one otherwise.

The C parser reads the spec about ten times faster, which is most of a cold
start-up; both build the same documents (tests/spec/test_spec.py compares them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """The document in ``text``, read with safe constructors only (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=SafeLoader)


def read_yaml(path: Path) -> Any:
    """The document in the UTF-8 file at ``path`` (raises OSError, yaml.YAMLError)."""
    return load_yaml(path.read_text(encoding="utf-8"))
