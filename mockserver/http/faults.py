"""Errors on demand, so a client's retry logic can be tested against the mock.

Request headers (header parameters in the spec, found by their
``x-mock-role``) say which error to answer, for how many attempts, and with which retry hints. Attempts
are counted by the client's own ``x-stainless-retry-count`` header, so no
state is kept between requests.
"""

from __future__ import annotations

from collections.abc import Mapping

from jsonschema import Draft202012Validator
from starlette.requests import Request

from mockserver.http.errors import STATUS_WORDS, UNKNOWN_STATUS, ApiError, retry_headers, validation_failed
from mockserver.http.recorder import note_injected
from mockserver.spec.documents import Operation
from mockserver.spec.roles import Role
from mockserver.spec.typed_text import typed
from mockserver.spec.validation import validate

RETRY_COUNT = "x-stainless-retry-count"  # sent by the OpenAI SDKs on every attempt


class FaultChecker:
    """Reads the fault headers an operation declares, validated by their schemas."""

    def __init__(self, operation: Operation) -> None:
        self._document = operation.document
        self._params = {
            Role(p["x-mock-role"]): (str(p["name"]).lower(), Draft202012Validator(p.get("schema", {})))
            for p in operation.parameters()
            if p.get("in") == "header" and p.get("x-mock-role")
        }

    def _value(self, request: Request, role: Role) -> int | str | None:
        if role not in self._params:
            return None
        name, validator = self._params[role]
        raw = request.headers.get(name)
        if raw is None:
            return None
        schema = validator.schema if isinstance(validator.schema, Mapping) else {}
        value: int | str = typed(raw.strip(), schema.get("type"))
        issues = validate(validator, value, root="header")
        if issues:
            raise validation_failed([i.at(("header", name, *i.loc[1:])) for i in issues])
        return value

    def check(self, request: Request) -> None:
        """Raise the requested error, unless this attempt is past the failing ones."""
        status = self._value(request, Role.FAIL_STATUS)
        if not isinstance(status, int):
            return
        times = self._value(request, Role.FAIL_TIMES)
        attempt = request.headers.get(RETRY_COUNT, "0").strip()
        if isinstance(times, int) and attempt.isascii() and attempt.isdigit() and int(attempt) >= times:
            return
        delay = self._value(request, Role.RETRY_AFTER_MS)
        should_retry = self._value(request, Role.SHOULD_RETRY)
        headers = retry_headers(
            self._document,
            delay if isinstance(delay, int) else None,
            should_retry if isinstance(should_retry, str) else None,
        )
        asked_by = self._params[Role.FAIL_STATUS][0]
        note_injected(request.scope, "answer", f"header {asked_by}")
        message = f"{STATUS_WORDS.get(status, UNKNOWN_STATUS).message} (asked for by {asked_by})"
        raise ApiError(status, message, "injected_fault", headers=headers)
