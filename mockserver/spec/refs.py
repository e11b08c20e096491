"""Writing a schema's ``$ref``s in place, once, so validation need not follow them.

Following references through the registry costs more than the checks
themselves; a schema with its references inlined validates the same instances
several times faster. Recursive or scope-changing schemas are left alone
(``NotInlinable``) and validated through the registry as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

# Keywords that only describe: a $ref's sibling may override them freely.
_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "example", "deprecated", "readOnly", "writeOnly", "$comment"}
)
_SCOPE_KEYWORDS = frozenset({"$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef"})
_MAX_INLINE_DEPTH = 64


class NotInlinable(Exception):
    """A recursive or scope-changing schema: validate it through the registry instead."""


def inline(node: Any, base: str, lookup: Any, stack: tuple[str, ...]) -> Any:
    """``node`` with every ``$ref`` replaced by its target (siblings kept)."""
    if len(stack) > _MAX_INLINE_DEPTH:
        raise NotInlinable
    if isinstance(node, list):
        return [inline(item, base, lookup, stack) for item in node]
    if not isinstance(node, Mapping):
        return node
    if _SCOPE_KEYWORDS & node.keys():
        raise NotInlinable
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return {k: inline(v, base, lookup, stack) for k, v in node.items()}
    target_uri = base + ref if ref.startswith("#") else urljoin(base, ref)
    if target_uri in stack:
        raise NotInlinable  # recursive schema
    target = inline(lookup(target_uri), target_uri.split("#")[0], lookup, (*stack, target_uri))
    siblings = {k: inline(v, base, lookup, stack) for k, v in node.items() if k != "$ref"}
    if not isinstance(target, Mapping):
        raise NotInlinable
    clash = {k for k in siblings.keys() & target.keys() if k not in _ANNOTATIONS and not k.startswith("x-")}
    if clash:
        return {**siblings, "allOf": [target]}
    return {**target, **siblings}
