"""What every handler shares: settings, the compiled spec, the queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import Response

from mockserver.clock import Clock
from mockserver.config import Settings
from mockserver.formats import FORMAT_CHECKER
from mockserver.http import auth
from mockserver.http.errors import validation_failed
from mockserver.queue import JobQueue
from mockserver.spec import Operation, Spec
from mockserver.validation import Issue, validate

Endpoint = Callable[[Request], Awaitable[Response]]
HandlerFactory = Callable[[Operation, "AppContext"], Endpoint]


@dataclass
class AppContext:
    settings: Settings
    spec: Spec
    clock: Clock
    queue: JobQueue

    def authorize(self, request: Request, operation: Operation) -> None:
        if operation.security_required():
            auth.authorize(request, self.settings.api_key)

    def body_validator(self, operation: Operation) -> Draft202012Validator:
        pointer = operation.body_schema_pointer()
        if pointer is None:
            raise LookupError(f"{operation.operation_id} has no JSON body schema")
        return self.spec.validator(operation.document, pointer)


class QueryChecker:
    """Validates the query parameters an operation declares, from their schemas."""

    def __init__(self, operation: Operation) -> None:
        self._params: list[tuple[str, bool, Draft202012Validator]] = [
            (
                p["name"], bool(p.get("required")),
                Draft202012Validator(p.get("schema", {}), format_checker=FORMAT_CHECKER),
            )
            for p in operation.parameters()
            if p.get("in") == "query"
        ]

    def check(self, query: Mapping[str, Any]) -> None:
        if not query and not any(required for _, required, _ in self._params):
            return
        issues: list[Issue] = []
        for name, required, validator in self._params:
            if name not in query:
                if required:
                    issues.append(Issue(("query", name), "field required", "value_error.missing"))
                continue
            for issue in validate(validator, query[name], root="query"):
                issues.append(Issue(("query", name, *issue.loc[1:]), issue.msg, issue.type, issue.ctx))
        if issues:
            raise validation_failed(issues)
