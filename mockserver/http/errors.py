"""Errors as each API dialect words them.

Handlers raise :class:`ApiError`; one exception handler renders it in the
shape of the API the request was for (fal's ``detail`` bodies here; other
dialects register their own renderer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mockserver.http import request_ids
from mockserver.http.responses import JsonAnswer
from mockserver.spec.validation import Issue

ErrorRenderer = Callable[["ApiError"], JsonAnswer]


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


def render_fal(error: ApiError) -> JsonAnswer:
    if error.body is not None:
        body: dict[str, Any] = dict(error.body)
    elif error.issues:
        body = {"detail": [issue.as_json() for issue in error.issues]}
    else:
        body = {"detail": error.message, "error_type": error.error_type}
    headers = {"X-Fal-Error-Type": error.error_type, **error.headers}
    return JsonAnswer(body, status_code=error.status_code, headers=headers)


# The OpenAI-compatible provider's table: HTTP status -> (error.type, error.code).
OPENAI_CODES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "param_error"),
    401: ("invalid_request_error", "auth_error"),
    408: ("timeout", "timeout"),
    429: ("rate_limit_error", "rate_limit"),
    500: ("internal_error", "internal_error"),
    504: ("timeout", "gateway_timeout_error"),
}


def render_openai(error: ApiError) -> JsonAnswer:
    """``{"error": {message, type, param, code}}``; this provider puts the request id in ``param``."""
    # The provider knows no 422: every invalid body is a 400 that names the fields.
    status = 400 if error.status_code == 422 else error.status_code
    if error.issues:
        message = "Invalid parameters: " + "; ".join(f"{i.field_path}: {i.msg}" for i in error.issues)
    else:
        message = error.message
    fallback = ("invalid_request_error" if status < 500 else "internal_error", error.error_type)
    error_type, code = OPENAI_CODES.get(status, fallback)
    request_id = request_ids.current()
    body = {"error": {"message": message, "type": error_type, "param": request_id, "code": code}}
    # The request id header itself is put on every answer by the front (x-mock-stamp-request-id).
    return JsonAnswer(body, status_code=status, headers=dict(error.headers))


RENDERERS: dict[str, ErrorRenderer] = {"fal": render_fal, "openai": render_openai}


def render(dialect: str, error: ApiError) -> JsonAnswer:
    return RENDERERS.get(dialect, render_fal)(error)
