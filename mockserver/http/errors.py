"""Errors as each API dialect words them.

Handlers raise :class:`ApiError`; one exception handler renders it in the
shape of the API the request was for (fal's ``detail`` bodies here; other
dialects register their own renderer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse

from mockserver.validation import Issue

ErrorRenderer = Callable[["ApiError"], JSONResponse]


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


def render_fal(error: ApiError) -> JSONResponse:
    if error.body is not None:
        body: dict[str, Any] = dict(error.body)
    elif error.issues:
        body = {"detail": [issue.as_json() for issue in error.issues]}
    else:
        body = {"detail": error.message, "error_type": error.error_type}
    headers = {"X-Fal-Error-Type": error.error_type, **error.headers}
    return JSONResponse(body, status_code=error.status_code, headers=headers)


RENDERERS: dict[str, ErrorRenderer] = {"fal": render_fal}


def render(dialect: str, error: ApiError) -> JSONResponse:
    return RENDERERS.get(dialect, render_fal)(error)
