"""Reading YAML: libyaml's C parser where PyYAML was built with it, the pure-Python one otherwise.

The C parser reads the spec about ten times faster, which is most of a cold
start-up; both build the same documents (tests/spec/test_spec.py compares them).
A key given twice in one mapping is an error, not a silent overwrite: YAML
says keys are unique, and PyYAML would keep only the last one (a second
``parameters:`` block would hide the first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeLoader(_Base):  # type: ignore[valid-type,misc]
    """Safe constructors only, and no key twice in a mapping."""


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    # Only the keys written in this mapping count: what a merge key (`<<: *base`) brings in may be
    # overridden here, as YAML allows.
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            twice = key in seen
            seen.add(key)
        except TypeError:  # a list or a mapping as a key: construct_mapping says so in YAML's words
            break
        if twice:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found the key {key!r} twice", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=deep)


SafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(text: str) -> Any:
    """The document in ``text``, read with safe constructors only (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=SafeLoader)


def read_yaml(path: Path) -> Any:
    """The document in the UTF-8 file at ``path`` (raises OSError, yaml.YAMLError)."""
    return load_yaml(path.read_text(encoding="utf-8"))
