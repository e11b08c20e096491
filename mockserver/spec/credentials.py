"""Where the spec says an answer carries a credential (``x-mock-role: credential``)."""

from __future__ import annotations

from collections.abc import Mapping

from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role

WHOLE_BODY = ""  # the answer is the credential itself (a JSON string)


def credential_fields(spec: Spec) -> Mapping[str, frozenset[str]]:
    """For each operation whose answers carry credentials, the top-level fields that do
    (:data:`WHOLE_BODY` when the body is one)."""
    found: dict[str, set[str]] = {}
    for op in spec.operations:
        for response in op.raw.get("responses", {}).values():
            for media in spec.resolve(response, op.document).get("content", {}).values():
                schema = spec.resolve(media.get("schema", {}), op.document)
                names = {WHOLE_BODY} if schema.get("x-mock-role") == Role.CREDENTIAL else set()
                for name, prop in schema.get("properties", {}).items():
                    if spec.resolve(prop, op.document).get("x-mock-role") == Role.CREDENTIAL:
                        names.add(str(name))
                if names:
                    found.setdefault(op.operation_id, set()).update(names)
    return {op: frozenset(names) for op, names in found.items()}
