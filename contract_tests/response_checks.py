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

from contract_tests.report import Failure, Findings
from mockserver.testing import Operation, Spec

JSON = "application/json"
_MAX_ERRORS = 5
# The rules every checked answer is counted under in the summary.
RESPONSE_RULES = ("response.status", "response.header", "response.content-type", "response.schema")


def check_answer(spec: Spec, op: Operation, response: httpx.Response, found: Findings) -> None:
    """Check ``response`` against ``op`` and count the response rules as evaluated."""
    found.checked(*RESPONSE_RULES)
    if op.document.stamped_request_id_header:
        found.checked("response.request-id")
    found.extend(check_response(spec, op, response))


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
    failures: list[Failure] = []
    # A document may promise a request id header on every answer, errors included.
    id_header = op.document.stamped_request_id_header
    if id_header and not response.headers.get(id_header.decode("latin-1")):
        failures.append(Failure("response.request-id", f"{where} without the {id_header.decode('latin-1')} header"))
    found = documented_response(spec, op, response.status_code)
    if found is None:
        documented = ", ".join(str(k) for k in op.raw.get("responses", {}))
        failures.append(
            Failure("response.status", f"{where}, a status the spec does not document (documented: {documented})")
        )
        return failures
    pointer, documented_obj = found
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


def check_gets(spec: Spec, client: httpx.Client, base_url: str, ops: list[Operation], label: str) -> Findings:
    """GET each operation (no parameters) and check it answers 200 as documented."""
    found = Findings(label, f"GET of {len(ops)} routes")
    for op in ops:
        url = base_url.rstrip("/") + op.path
        try:
            answer = client.get(url)
        except httpx.HTTPError as exc:
            found.add("response.status", f"GET {url} failed: {exc}")
            continue
        check_answer(spec, op, answer, found)
        if answer.status_code != 200:
            found.add("response.status", f"GET {url} answered {answer.status_code}, not 200")
    return found
