"""The Starlette application, assembled from the spec.

Each operation with an ``x-mock-handler`` becomes a route; the handler name
picks the code. Adding a model to the family is adding YAML.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.clock import Clock, SystemClock
from mockserver.config import Settings
from mockserver.http import fal, files
from mockserver.http.context import AppContext, HandlerFactory
from mockserver.http.errors import ApiError, render
from mockserver.http.limits import HeaderLimit
from mockserver.queue import JobQueue
from mockserver.spec import Operation, Spec, SpecError

log = logging.getLogger("mockserver")

HANDLERS: dict[str, HandlerFactory] = {**fal.HANDLERS, **files.HANDLERS}
_STATUS_WITH_SUBPATH = re.compile(r"^/([^/]+)/([^/]+)/.+/requests/([^/]+)(/status|/cancel|/status/stream)?$")


def _route_path(operation: Operation) -> str:
    path = operation.path
    for name, converter in operation.path_converters().items():
        path = path.replace("{" + name + "}", "{" + name + ":" + converter + "}")
    return path


def build_routes(ctx: AppContext) -> list[Route]:
    routes: list[Route] = []
    for operation in ctx.spec.operations:
        factory = HANDLERS.get(operation.handler)
        if factory is None:
            raise SpecError(f"{operation.operation_id}: unknown x-mock-handler {operation.handler!r}")
        routes.append(
            Route(
                _route_path(operation), factory(operation, ctx), methods=[operation.method],
                name=operation.operation_id,
            )
        )
    # Literal paths first, so a template never shadows a model endpoint.
    routes.sort(key=lambda r: "{" in r.path)
    return routes


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, spec: Spec | None = None) -> Starlette:
    settings = settings or Settings()
    spec = spec or Spec.load(settings.spec_paths)
    clock = clock or SystemClock()
    ctx = AppContext(settings=settings, spec=spec, clock=clock, queue=JobQueue(settings, clock))

    def dialect(request: Request) -> str:
        return spec.document_for_path(request.url.path).dialect

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return render(dialect(request), exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if exc.status_code == 404:
            message = f"Not found: {request.method} {path}"
            hint = _STATUS_WITH_SUBPATH.match(path)
            if hint:
                owner, app, request_id, tail = hint.groups()
                message += f" (queue URLs use only owner/app: /{owner}/{app}/requests/{request_id}{tail or ''})"
            error = ApiError(404, message, "route_not_found")
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            error = ApiError(
                405, f"Method {request.method} not allowed on {path}; allowed: {allowed}", "method_not_allowed",
                headers=dict(exc.headers or {}),
            )
        else:
            error = ApiError(exc.status_code, str(exc.detail), "http_error", headers=dict(exc.headers or {}))
        return render(dialect(request), error)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(dialect(request), ApiError(500, "Internal error in the mock server", "internal_error"))

    app = Starlette(
        routes=build_routes(ctx),
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, Exception: on_crash},
        middleware=[
            Middleware(
                HeaderLimit, max_bytes=settings.max_header_bytes,
                dialect=lambda path: spec.document_for_path(path).dialect,
            )
        ],
    )
    app.state.ctx = ctx
    return app
