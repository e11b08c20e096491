"""Checking one HTTP answer against what its spec operation documents.

Status code, declared headers, media type and body schema all come from the
spec; the validators are the spec's own (``Spec.validator`` on a JSON pointer),
so no schema is restated here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from contract_tests.report import Failure
from mockserver.testing import Operation, Spec

JSON = "application/json"
_MAX_ERRORS = 5


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def documented_response(spec: Spec, op: Operation, status: int) -> tuple[str, Mapping[str, Any]] | None:
    """The JSON pointer and resolved object of the response the spec documents for ``status``."""
    responses = op.raw.get("responses", {})
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            node = responses[key]
            ref = node.get("$ref") if isinstance(node, Mapping) else None
            if isinstance(ref, str) and ref.startswith("#/"):
                pointer = ref[1:]
            else:
                pointer = f"{op.pointer}/responses/{_escape(key)}"
            return pointer, spec.resolve(node, op.document)
    return None


def json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def check_response(spec: Spec, op: Operation, response: httpx.Response) -> list[Failure]:
    where = f"{response.request.method} {response.request.url} ({op.operation_id}) answered {response.status_code}"
    found = documented_response(spec, op, response.status_code)
    if found is None:
        documented = ", ".join(str(k) for k in op.raw.get("responses", {}))
        return [Failure("response.status", f"{where}, a status the spec does not document (documented: {documented})")]
    pointer, documented_obj = found
    failures: list[Failure] = []
    for name, header in documented_obj.get("headers", {}).items():
        resolved = spec.resolve(header, op.document)
        if resolved.get("required") and name.lower() not in response.headers:
            failures.append(Failure("response.header", f"{where} without the required header {name}"))
    content = documented_obj.get("content") or {}
    if not content:
        return failures
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in content:
        failures.append(
            Failure("response.content-type", f"{where} with Content-Type {media!r}; documented: {', '.join(content)}")
        )
        return failures
    if media == JSON and "schema" in content[media]:
        body = json_body(response)
        if body is None and response.content.strip() != b"null":
            return [*failures, Failure("response.json", f"{where} with a body that is not JSON")]
        validator = spec.validator(op.document, f"{pointer}/content/{_escape(media)}/schema")
        errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors[:_MAX_ERRORS]:
            failures.append(Failure("response.schema", f"{where}: at {error.json_path}: {error.message}"))
        if len(errors) > _MAX_ERRORS:
            failures.append(Failure("response.schema", f"{where}: {len(errors) - _MAX_ERRORS} more schema errors"))
    return failures
