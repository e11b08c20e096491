"""The Starlette application, assembled from the spec.

Each operation with an ``x-mock-handler`` becomes a route; the handler name
picks the code. Adding a model to the family is adding YAML.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.cassette.reader import read_cassette
from mockserver.config import Settings
from mockserver.http import scenario_gate
from mockserver.http.context import AppContext, Endpoint, HandlerFactory, checking_headers
from mockserver.http.errors import ApiError, render, retry_headers
from mockserver.http.front import ExceptionHandler, Front
from mockserver.http.passage import send_json
from mockserver.http.recorder import Recorder
from mockserver.http.replay_gate import ReplayGate
from mockserver.http.responses import JsonResponse
from mockserver.http.routes import (
    account_api,
    dashboard,
    fal_queue,
    files,
    journal_api,
    jwks,
    multipart_api,
    openai_images,
    proxy,
    run_stream,
    scenario_api,
    tokens_api,
    uploads_api,
)
from mockserver.http.routing import IndexedRouter
from mockserver.sim import scenarios
from mockserver.sim.account import BalanceExhausted
from mockserver.sim.clock import Clock, OffsetClock, SystemClock
from mockserver.sim.jobs import Job
from mockserver.sim.multipart_uploads import MultipartUploads
from mockserver.sim.queue import JobQueue, QueueFull
from mockserver.sim.replay_book import ReplayBook
from mockserver.sim.stopping import ServerStopping
from mockserver.sim.stores import Retention
from mockserver.sim.upload_slots import UploadSlots
from mockserver.sim.webhook_delivery import WebhookDispatcher
from mockserver.spec.documents import Operation, SpecDocument, SpecError
from mockserver.spec.file_links import FileLinks
from mockserver.spec.loader import Spec, default_spec

log = logging.getLogger("mockserver")

HANDLERS: dict[str, HandlerFactory] = {
    **fal_queue.HANDLERS,
    **files.HANDLERS,
    **openai_images.HANDLERS,
    **journal_api.HANDLERS,
    **scenario_api.HANDLERS,
    **uploads_api.HANDLERS,
    **multipart_api.HANDLERS,
    **tokens_api.HANDLERS,
    **proxy.HANDLERS,
    **run_stream.HANDLERS,
    **jwks.HANDLERS,
    **account_api.HANDLERS,
    **dashboard.HANDLERS,
}
# The roles each handler reads; a spec that cannot give them does not start.
ROLE_NEEDS = {**openai_images.NEEDS}
_STATUS_WITH_SUBPATH = re.compile(r"^/([^/]+)/([^/]+)/.+/requests/([^/]+)(/status|/cancel|/status/stream)?$")


def _route_path(operation: Operation) -> str:
    path = operation.path
    for name, converter in operation.path_converters().items():
        path = path.replace("{" + name + "}", "{" + name + ":" + converter + "}")
    return path


def check_spec(spec: Spec) -> None:
    """Stop start-up when the spec names a handler the code lacks, or lacks a role a handler reads."""
    for operation in spec.operations:
        if operation.handler not in HANDLERS:
            raise SpecError(f"{operation.operation_id}: unknown x-mock-handler {operation.handler!r}")
    spec.check_needs(ROLE_NEEDS)


def build_routes(ctx: AppContext) -> list[Route]:
    routes: list[Route] = []
    for operation in ctx.spec.operations:
        factory = HANDLERS[operation.handler]  # check_spec made sure there is one
        endpoint = checking_headers(operation, scenario_gate.wrap(factory(operation, ctx), operation, ctx))
        endpoint = _yielding(endpoint, _shadows(operation, ctx.spec.operations))
        routes.append(
            Route(_route_path(operation), _Asgi(endpoint), methods=[operation.method], name=operation.operation_id)
        )
    # Literal paths first, so a template never shadows a model endpoint.
    routes.sort(key=lambda r: "{" in r.path)
    return routes


def _shadows(operation: Operation, operations: Sequence[Operation]) -> list[re.Pattern[str]]:
    """The paths of other operations that a path this template takes may also be, with more
    literal segments: such a path is theirs (``/files/upload/multipart`` is no file to GET)."""
    if "{" not in operation.path:
        return []
    mine = operation.path.strip("/").split("/")
    found = []
    for other in operations:
        theirs = other.path.strip("/").split("/")
        if (
            len(theirs) == len(mine)
            and _literal_segments(other.path) > _literal_segments(operation.path)
            and all("{" in a or "{" in b or a == b for a, b in zip(mine, theirs, strict=True))
        ):
            found.append(compile_path(_route_path(other))[0])
    return found


def _yielding(endpoint: Endpoint, shadows: list[re.Pattern[str]]) -> Endpoint:
    """``endpoint``, answering 405 (allowed: the other path's methods) for paths that are another's."""
    if not shadows:
        return endpoint  # nearly every route: nothing to look at

    def checked(request: Request) -> Awaitable[Response]:
        path = request.scope["path"]
        if any(shadow.match(path) for shadow in shadows):
            raise HTTPException(405)
        return endpoint(request)

    return checked


class _Asgi:
    """An endpoint as a bare ASGI app.

    Starlette would wrap a plain function in a second exception-handling
    layer; the app-wide one already answers every error the same way, so
    each request is spared the inner one.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive, send))
        if type(response) is JsonResponse and response.plain and response.background is None:
            # Nearly every response: sent as JsonResponse.__call__ would send it (a submit
            # measured 3 % dearer without this).
            await send_json(send, response.status_code, response.raw_headers, response.body)
            return
        await response(scope, receive, send)


def _methods_at(routes: list[Route], scope: Scope) -> list[str]:
    # A route whose path matches answers FULL or PARTIAL, whatever the method. The paths
    # with the most literal segments name the resource: a literal path (/_mock/scenarios/reset)
    # shadows a template that also fits, and /files/upload/{upload_id} shadows /files/{id}/{name}.
    fits = [r for r in routes if r.matches(scope)[0] is not Match.NONE]
    if not fits:
        return []
    most = max(_literal_segments(r.path) for r in fits)
    return sorted({m for r in fits if _literal_segments(r.path) == most for m in r.methods or ()})


def _literal_segments(path: str) -> int:
    return sum(1 for segment in path.split("/") if segment and "{" not in segment)


class MockApp(Starlette):
    """Starlette for the lifespan and the route list; HTTP requests go through :class:`Front`.

    Each connection is noted so that a scenario can drop it. The server
    calls :meth:`begin_shutdown` as it starts to stop, before it waits for
    open requests to finish.
    """

    def __init__(
        self,
        *,
        routes: list[Route],
        lifespan: Any,
        front: Callable[[ASGIApp], Front],
        on_shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(routes=routes, lifespan=lifespan)
        self._on_shutdown = on_shutdown
        self.router = IndexedRouter(routes, lifespan=lifespan)
        # The router's own app: Router.__call__ only notes the router in the scope, as its app does.
        self.front = front(self.router.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # Starlette's router raises 404/405 for the front to answer when it sees this
        # The server's transport, for a scenario's drop (see scenario_gate.CONNECTION).
        scope[scenario_gate.CONNECTION] = getattr(getattr(send, "__self__", None), "transport", None)
        await self.front(scope, receive, send)

    async def begin_shutdown(self) -> None:
        """End what would hold the shutdown: status streams, waits for jobs, pending webhooks."""
        await self._on_shutdown()


def retention_of(spec: Spec, settings: Settings) -> Retention:
    """``--retention`` for every request when given; else the rules of fal's ``x-contract``."""
    if settings.retention_seconds is not None:
        return Retention.flat(settings.retention_seconds)
    rules = spec.queue_contract(fal_queue.DIALECT).retention
    if not rules:
        raise SpecError("the fal x-contract gives no retention, and no --retention was set")
    return Retention(rules["seconds"], rules["large_result_seconds"], int(rules["large_result_bytes"]))


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, spec: Spec | None = None) -> MockApp:
    settings = settings or Settings()
    if spec is None:
        # The default documents are read once per process; documents of one's own, every time.
        spec = default_spec() if settings.spec_paths is None else Spec.load(settings.spec_paths)
    check_spec(spec)
    # A cassette that cannot be read stops start-up (CassetteError), as a bad spec does.
    cassette = read_cassette(settings.replay_dir) if settings.replay_dir is not None else None
    # Whatever drives time underneath, /_mock/clock can move it forward.
    clock = OffsetClock(clock or SystemClock())
    replays = None if cassette is None else ReplayBook.of(cassette, spec, clock, settings.time_scale)
    initial = scenarios.load_file(settings.scenarios_path, spec) if settings.scenarios_path else []
    book = scenarios.ScenarioBook(initial, seed=settings.scenario_seed)
    queue = JobQueue(settings, clock, FileLinks.of(spec, files.FILE_HANDLER), retention_of(spec, settings))

    async def webhook_result(job: Job, base: str) -> tuple[int, Any]:
        return await fal_queue.finished_result(queue, job, base, spec.queue_contract(fal_queue.DIALECT))

    lifecycle = spec.queue_contract(fal_queue.DIALECT)
    dispatcher = WebhookDispatcher(
        queue,
        settings,
        webhook_result,
        spec.webhook_headers(fal_queue.DIALECT),
        lifecycle.webhook_schedule,
        lifecycle.webhook.get("payload_error", ""),
    )
    uploads = UploadSlots(clock, queue.retention.seconds)
    multipart = MultipartUploads(
        clock, queue.files.disk, queue.retention.seconds, settings.max_upload_bytes, settings.max_multipart_uploads
    )
    ctx = AppContext(
        settings=settings, spec=spec, clock=clock, queue=queue, webhooks=dispatcher, uploads=uploads,
        multipart=multipart, scenarios=book,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await dispatcher.aclose()  # pending webhooks die with the server
        queue.files.disk.close()  # large uploads too: the requests that used them have ended

    async def shutdown() -> None:
        queue.stopping.set()
        await dispatcher.aclose()

    def document(request: Request) -> SpecDocument:
        return spec.document_for_path(request.url.path)

    def answer(request: Request, error: ApiError) -> Response:
        """``error`` in the request's dialect, naming the request it was about, as fal's errors do."""
        doc = document(request)
        response = render(doc, error)
        request_id = fal_queue.request_id_of(request, queue)
        if request_id is not None:
            response.headers.setdefault(spec.request_id_header(doc.dialect), request_id)
        return response

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return answer(request, exc)

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
            # Starlette names only the first route that matched the path; a path
            # can have several operations, each its own route.
            allowed = ", ".join(_methods_at(routes, request.scope))
            error = ApiError(
                405, f"Method {request.method} not allowed on {path}; allowed: {allowed}", "method_not_allowed",
                headers={**(exc.headers or {}), "Allow": allowed},
            )
        else:
            error = ApiError(exc.status_code, str(exc.detail), "http_error", headers=dict(exc.headers or {}))
        return answer(request, error)

    async def on_queue_full(request: Request, exc: Exception) -> Response:
        # Clients retry a 429 with backoff, which is what a full mock needs from them.
        doc = document(request)
        return answer(request, ApiError(429, str(exc), "queue_full", headers=retry_headers(doc, 1000)))

    async def on_exhausted(request: Request, exc: Exception) -> Response:
        # fal's body is the message alone, no error_type.
        return answer(request, ApiError(403, str(exc), "", body={"detail": str(exc)}))

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        # The client left while its body was being read: nobody hears the answer, and nothing was done.
        return Response(status_code=499)

    async def on_stopping(request: Request, exc: Exception) -> Response:
        # A synchronous run still waiting for its job when the server stops.
        return answer(request, ApiError(503, str(exc), ServerStopping.error_type))

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(request, ApiError(500, "Internal error in the mock server", "internal_error"))

    routes = build_routes(ctx)
    recorder = Recorder(ctx.journal, ctx.rules, spec, clock)
    recorder.know_routes(routes)
    handlers: dict[type[Exception], ExceptionHandler] = {
        ApiError: on_api_error,
        HTTPException: on_http_error,
        QueueFull: on_queue_full,
        BalanceExhausted: on_exhausted,
        ClientDisconnect: on_disconnect,
        ServerStopping: on_stopping,
        Exception: on_crash,
    }
    app = MockApp(
        routes=routes,
        lifespan=lifespan,
        on_shutdown=shutdown,
        front=lambda router: Front(
            router if replays is None else ReplayGate(router, routes, ctx, replays),
            spec=spec, recorder=recorder, max_header_bytes=settings.max_header_bytes, handlers=handlers,
        ),
    )
    app.state.ctx = ctx
    return app
