"""What every handler shares: settings, the compiled spec, the queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import Response

from mockserver.config import Settings
from mockserver.http import auth
from mockserver.http.bodies import read_json
from mockserver.http.errors import validation_failed
from mockserver.kit.client_rules import ClientRules
from mockserver.kit.journal import Journal
from mockserver.sim.clock import Clock
from mockserver.sim.multipart_uploads import MultipartUploads
from mockserver.sim.queue import JobQueue
from mockserver.sim.scenarios import ScenarioBook
from mockserver.sim.upload_slots import UploadSlots
from mockserver.sim.webhook_delivery import WebhookDispatcher
from mockserver.spec import jsontext
from mockserver.spec.documents import Operation, parameter_schema
from mockserver.spec.formats import FORMAT_CHECKER
from mockserver.spec.loader import Spec
from mockserver.spec.typed_text import typed
from mockserver.spec.validation import Issue, fast_check, validate
from mockserver.spec.validity import Check

Endpoint = Callable[[Request], Awaitable[Response]]


def _no_check(value: Any) -> bool:
    return False  # no fast check for this schema: every body goes to jsonschema


HandlerFactory = Callable[[Operation, "AppContext"], Endpoint]


@dataclass
class AppContext:
    settings: Settings
    spec: Spec
    clock: Clock
    queue: JobQueue
    webhooks: WebhookDispatcher
    uploads: UploadSlots
    multipart: MultipartUploads
    # The request journal and the client rules it is checked against.
    journal: Journal = field(init=False)
    rules: ClientRules = field(init=False)
    scenarios: ScenarioBook = field(default_factory=ScenarioBook)
    # Body validators by operation id: found once, asked on every submit.
    _body_validators: dict[str, Draft202012Validator] = field(default_factory=dict, init=False, repr=False)
    # Their fast yes/no checks, by operation id (a schema without one: always "ask" jsonschema).
    _body_checks: dict[str, Check] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.journal = Journal(self.settings.journal_max_entries)
        self.rules = ClientRules(self.spec, self.settings.min_poll_interval)

    def authorize(self, request: Request, operation: Operation) -> None:
        if operation.security_required:
            auth.authorize(request, self.settings.api_key)

    async def read_valid_body(self, request: Request, operation: Operation) -> Any:
        """The request's JSON body, validated against the operation's schema (422 naming every field)."""
        return self.checked_body(operation, await read_json(request, self.settings.max_body_bytes))

    def checked_body(self, operation: Operation, body: Any) -> Any:
        """``body`` if it conforms to the operation's schema; else a 422 naming every field."""
        check = self._body_checks.get(operation.operation_id)
        if check is None:
            check = fast_check(self.body_validator(operation)) or _no_check
            self._body_checks[operation.operation_id] = check
        if check(body):
            return body  # valid: jsonschema's worded walk is only for bodies with something to say
        issues = validate(self.body_validator(operation), body)
        if issues:
            raise validation_failed(issues)
        return body

    def body_validator(self, operation: Operation) -> Draft202012Validator:
        validator = self._body_validators.get(operation.operation_id)
        if validator is None:
            pointer = operation.body_schema_pointer()
            if pointer is None:
                raise LookupError(f"{operation.operation_id} has no JSON body schema")
            validator = self._body_validators[operation.operation_id] = self.spec.validator(operation.document, pointer)
        return validator


class QueryChecker:
    """Validates the query (or header) parameters an operation declares, from their schemas.

    A parameter declared with ``content: application/json`` (OpenAPI's form for a value that
    is JSON text, like fal's lifecycle header) is parsed as JSON, then checked by its schema.
    """

    def __init__(self, operation: Operation, location: str = "query") -> None:
        self.location = location
        self._params: list[tuple[str, bool, Draft202012Validator]] = []
        self._json: set[str] = set()
        for p in operation.parameters():
            schema = parameter_schema(p)
            if p.get("in") != location or schema is None:
                continue
            name = p["name"] if location == "query" else p["name"].lower()
            self._params.append((name, bool(p.get("required")), _validator(schema)))
            if "schema" not in p:
                self._json.add(name)
        self.any_required = any(required for _, required, _ in self._params)
        self.names = frozenset(name.encode("latin-1") for name, _, _ in self._params)  # as ASGI spells them
        self._types = {
            name: declared.get("type") if isinstance(declared := validator.schema, Mapping) else None
            for name, _, validator in self._params
        }

    def __bool__(self) -> bool:
        return bool(self._params)

    def check(self, values: Mapping[str, Any]) -> None:
        if not values and not self.any_required:
            return
        where = self.location
        issues: list[Issue] = []
        for name, required, validator in self._params:
            if name not in values:
                if required:
                    issues.append(Issue((where, name), "field required", "value_error.missing"))
                continue
            if name in self._json:
                try:
                    value = jsontext.decode(values[name])
                except (ValueError, RecursionError):
                    issues.append(Issue((where, name), "value is not valid JSON", "value_error.jsondecode"))
                    continue
            else:
                value = typed(values[name], self._types[name])
            for issue in validate(validator, value, root=where):
                issues.append(issue.at((where, name, *issue.loc[1:])))
        if issues:
            raise validation_failed(issues)


def checking_headers(operation: Operation, endpoint: Endpoint) -> Endpoint:
    """``endpoint``, after the header parameters the operation declares are validated."""
    headers = QueryChecker(operation, "header")
    if not headers or operation.raw.get("x-mock-own-header-checks"):
        return endpoint

    async def checked(request: Request) -> Response:
        headers.check(declared_headers(request.scope["headers"], headers.names))
        return await endpoint(request)

    return checked


def declared_headers(raw: list[tuple[bytes, bytes]], names: frozenset[bytes]) -> dict[str, str]:
    """The request's headers among ``names`` (lower-case, as ASGI gives them), the first of each.

    One pass over the few headers a request has, rather than a search of them for every header
    the operation declares (which fal's submits have half a dozen of, mostly absent)."""
    found: dict[str, str] = {}
    for key, value in raw:
        if key in names:
            found.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return found


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
