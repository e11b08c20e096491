"""Errors as each API dialect words them.

Handlers raise :class:`ApiError`; one exception handler renders it in the
shape of the API document the request was for (fal's ``detail`` bodies, or
OpenAI's ``error`` object with the codes of the document's error table).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mockserver.http import request_ids
from mockserver.http.responses import JsonResponse
from mockserver.spec.documents import SpecDocument
from mockserver.spec.roles import Role
from mockserver.spec.validation import Issue

ErrorRenderer = Callable[["ApiError", SpecDocument], JsonResponse]


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        message: str,
        error_type: str,
        *,
        issues: Sequence[Issue] = (),
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error_type = error_type
        self.issues = tuple(issues)
        self.headers = dict(headers or {})
        self.body = body  # an exact body, for answers whose shape is not an error's


def validation_failed(issues: Sequence[Issue]) -> ApiError:
    first = issues[0]
    return ApiError(422, f"{first.field_path}: {first.msg}", "validation_error", issues=issues)


def render_fal(error: ApiError, document: SpecDocument) -> JsonResponse:
    if error.body is not None:
        body: dict[str, Any] = dict(error.body)
    elif error.issues:
        body = {"detail": [issue.as_json() for issue in error.issues]}
    else:
        body = {"detail": error.message, "error_type": error.error_type}
    # An error fal words without a type (an exhausted balance) has none in its header either.
    headers = {"X-Fal-Error-Type": error.error_type, **error.headers} if error.error_type else dict(error.headers)
    return JsonResponse(body, status_code=error.status_code, headers=headers)


@dataclass(frozen=True)
class StatusWords:
    """What an error of one status says when nothing more precise is known."""

    message: str
    error_type: str  # fal's error_type
    nginx_title: str | None = None  # the load balancer's own error page (ingress errors)


# Every status's words, written once: scenario effects and faults on demand read them. The
# OpenAI-compatible provider's error.type and error.code are the spec's (x-contract.error_codes).
STATUS_WORDS: dict[int, StatusWords] = {
    400: StatusWords("Bad request", "bad_request"),
    401: StatusWords("Invalid credentials", "unauthorized"),
    403: StatusWords("Forbidden: the key may not use this endpoint", "forbidden"),
    404: StatusWords("Not found", "not_found"),
    408: StatusWords("Request timed out", "request_timeout"),
    409: StatusWords("Conflict", "conflict"),
    422: StatusWords("Unprocessable entity", "validation_error"),
    429: StatusWords("Rate limit exceeded: too many concurrent requests", "rate_limited"),
    500: StatusWords("Internal server error", "internal_error"),
    502: StatusWords("Bad gateway", "bad_gateway", nginx_title="502 Bad Gateway"),
    503: StatusWords("Service unavailable", "service_unavailable", nginx_title="503 Service Temporarily Unavailable"),
    504: StatusWords("Gateway timeout", "gateway_timeout", nginx_title="504 Gateway Time-out"),
}
UNKNOWN_STATUS = StatusWords("Request failed", "http_error")


def retry_headers(document: SpecDocument, delay_ms: float | None, advice: str | None = None) -> dict[str, str]:
    """The retry hints of an error answer, under the header names the document's dialect declares.

    The wait goes out in whole seconds, rounded up so a client that reads only
    those never comes back early, and in milliseconds where the dialect has
    a header for them.
    """
    headers: dict[str, str] = {}
    if delay_ms is not None:
        delay_ms = max(0.0, delay_ms)
        for role, value in ((Role.RETRY_DELAY, math.ceil(delay_ms / 1000)), (Role.RETRY_DELAY_MS, round(delay_ms))):
            name = document.answer_header(role)
            if name is not None:
                headers[name] = str(value)
    advice_header = document.answer_header(Role.RETRY_ADVICE)
    if advice is not None and advice_header is not None:
        headers[advice_header] = advice
    return headers


def render_openai(error: ApiError, document: SpecDocument) -> JsonResponse:
    """``{"error": {message, type, param, code}}``; this provider puts the request id in ``param``.

    ``type`` and ``code`` come from the document's ``x-contract.error_codes``
    table; a status the table lacks keeps a generic type and the error's own name.
    """
    # The provider knows no 422: every invalid body is a 400 that names the fields.
    status = 400 if error.status_code == 422 else error.status_code
    if error.issues:
        message = "Invalid parameters: " + "; ".join(f"{i.field_path}: {i.msg}" for i in error.issues)
    else:
        message = error.message
    known = _error_codes(document).get(status)
    if known is not None:
        error_type, code = str(known["type"]), str(known["code"])
    else:
        error_type, code = ("invalid_request_error" if status < 500 else "internal_error"), error.error_type
    request_id = request_ids.current()
    body = {"error": {"message": message, "type": error_type, "param": request_id, "code": code}}
    # The request id header itself is put on every answer by the front (x-mock-stamp-request-id).
    return JsonResponse(body, status_code=status, headers=dict(error.headers))


def _error_codes(document: SpecDocument) -> Mapping[int, Mapping[str, Any]]:
    """The provider's table in the spec: HTTP status -> error.type and error.code."""
    table: Mapping[int, Mapping[str, Any]] = document.raw.get("x-contract", {}).get("error_codes", {})
    return table


RENDERERS: dict[str, ErrorRenderer] = {"fal": render_fal, "openai": render_openai}


def render(document: SpecDocument, error: ApiError) -> JsonResponse:
    """``error`` in the shape of ``document``'s dialect (the API document the request was for)."""
    return RENDERERS.get(document.dialect, render_fal)(error, document)
