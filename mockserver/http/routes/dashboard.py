"""``/_mock/ui``: the dashboard, HTML pages over the views of :mod:`mockserver.ui.views`.

Pages are rendered from the templates shipped in ``mockserver/ui/templates``
(Jinja2, through Starlette's templating, loaded on the first page so a mock
nobody looks at never imports it). Changes go through the JSON admin routes:
the page's script calls them, the pages themselves only read.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from mockserver.http.context import AppContext, Endpoint, HandlerFactory, QueryChecker
from mockserver.http.errors import ApiError
from mockserver.http.routes.fal_queue import DIALECT, finished_result
from mockserver.http.urls import base_url
from mockserver.kit.journal import summarize
from mockserver.sim.clock import OffsetClock
from mockserver.sim.jobs import JobState
from mockserver.spec.documents import Operation
from mockserver.spec.loader import Spec
from mockserver.spec.typed_text import int_or, is_true
from mockserver.ui import live, views

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

# The page a browser opening the mock's root is sent to.
HOME_HANDLER = "ui.jobs"
_ASSET_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_NO_STORE = {"Cache-Control": "no-store"}


def handler_path(spec: Spec, handler: str) -> str:
    """The path of the (first) operation served by ``handler``."""
    for operation in spec.operations:
        if operation.handler == handler:
            return operation.path
    raise LookupError(f"no operation has x-mock-handler {handler}")


def dashboard_path(spec: Spec) -> str:
    """Where the dashboard is served (the jobs page)."""
    return handler_path(spec, HOME_HANDLER)


@functools.cache
def _templates() -> Jinja2Templates:
    from starlette.templating import Jinja2Templates  # (and Jinja2) only once a page is asked for

    folder = resources.files("mockserver.ui") / "templates"
    templates = Jinja2Templates(directory=str(folder))
    templates.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    templates.env.globals["clock_text"] = views.clock_text
    return templates


@functools.cache
def _asset(name: str) -> bytes | None:
    path = resources.files("mockserver.ui") / "static" / name
    return path.read_bytes() if path.is_file() else None


def _page_size(operation: Operation) -> int:
    return int(operation.raw.get("x-mock-page-size", 50))


def _offset(ctx: AppContext) -> float | None:
    return ctx.clock.offset if isinstance(ctx.clock, OffsetClock) else None


def _marks(ctx: AppContext) -> live.Marks:
    return live.Marks(ctx.journal.last_seq, views.jobs_mark(ctx.queue, _offset(ctx)))


class _Pages:
    """What every page shares: the paths it links to and the admin routes its script calls."""

    def __init__(self, ctx: AppContext) -> None:
        spec = ctx.spec
        self.ctx = ctx
        self.links = {
            name: handler_path(spec, f"ui.{name}") for name in ("jobs", "journal", "scenarios", "events")
        }
        self.job_path = handler_path(spec, "ui.job")
        self.asset_path = handler_path(spec, "ui.asset")
        self.api = {
            "rules": handler_path(spec, "mock.scenarios.create"),
            "rule": handler_path(spec, "mock.scenarios.delete"),
            "clock": handler_path(spec, "mock.clock.advance"),
        }
        self.test_id_header = spec.test_id_header

    def render(self, request: Request, template: str, section: str, **values: Any) -> Response:
        marks = _marks(self.ctx)
        context = {
            "links": self.links,
            "job_path": self.job_path,
            "asset": lambda name: self.asset_path.replace("{asset}", name),
            "api": self.api,
            "test_id_header": self.test_id_header,
            "section": section,
            "marks": marks,
            **values,
        }
        return _templates().TemplateResponse(request, template, context, headers=_NO_STORE)

    def file_url(self, request: Request) -> views.FileUrl:
        base, links = base_url(request), self.ctx.queue.links
        return lambda file_id, name: links.url(base, file_id, name)


def _page(request: Request) -> int:
    return int_or(request.query_params.get("page"), 1)


def root(operation: Operation, ctx: AppContext) -> Endpoint:
    home = dashboard_path(ctx.spec)

    async def endpoint(request: Request) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            raise HTTPException(404)  # what every unknown route answers: API clients see no change
        return RedirectResponse(home, status_code=307)

    return endpoint


def jobs(operation: Operation, ctx: AppContext) -> Endpoint:
    query, pages, size = QueryChecker(operation), _Pages(ctx), _page_size(operation)

    async def endpoint(request: Request) -> Response:
        query.check(request.query_params)
        params = request.query_params
        view = views.jobs_view(
            ctx.queue, pages.file_url(request), page=_page(request), size=size,
            state=params.get("state") or None, test_id=params.get("test_id") or None,
        )
        return pages.render(request, "jobs.html", "jobs", view=view, states=[s.value for s in JobState])

    return endpoint


def job(operation: Operation, ctx: AppContext) -> Endpoint:
    pages, contract = _Pages(ctx), ctx.spec.queue_contract(DIALECT)

    async def endpoint(request: Request) -> Response:
        found = ctx.queue.jobs.get(request.path_params["request_id"])
        if found is None:
            raise ApiError(404, "No such request (or it has expired)", "request_not_found")
        result: Any = None
        status: int | None = None
        if ctx.queue.is_done(found):
            status, result = await finished_result(ctx.queue, found, base_url(request), contract)
        webhook = ctx.webhooks.records.get(found.id)
        detail = views.job_detail(
            ctx.queue, ctx.journal, found, pages.file_url(request), limit=100, webhook=webhook
        )
        detail.result, detail.result_status = summarize(result), status
        return pages.render(request, "job.html", "jobs", detail=detail)

    return endpoint


def journal(operation: Operation, ctx: AppContext) -> Endpoint:
    query, pages, size = QueryChecker(operation), _Pages(ctx), _page_size(operation)

    async def endpoint(request: Request) -> Response:
        query.check(request.query_params)
        params = request.query_params
        view = views.journal_view(
            ctx.journal, page=_page(request), size=size,
            test_id=params.get("test_id") or None, only_violations=is_true(params.get("violations")),
        )
        return pages.render(request, "journal.html", "journal", view=view)

    return endpoint


def scenarios(operation: Operation, ctx: AppContext) -> Endpoint:
    query, pages, size = QueryChecker(operation), _Pages(ctx), _page_size(operation)

    async def endpoint(request: Request) -> Response:
        query.check(request.query_params)
        view = views.scenarios_view(
            ctx.scenarios, ctx.queue, offset=_offset(ctx), step_mode=ctx.settings.step_mode, limit=size,
            test_id=request.query_params.get("test_id") or None,
        )
        return pages.render(request, "scenarios.html", "scenarios", view=view)

    return endpoint


def events(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)

    async def endpoint(request: Request) -> Response:
        query.check(request.query_params)
        params = request.query_params
        seen = live.Marks(int(params["since"]), params.get("jobs", ""))
        feed = live.changes(seen, lambda: _marks(ctx), ctx.queue.stopping)
        headers = {**_NO_STORE, "X-Accel-Buffering": "no"}
        return StreamingResponse(feed, media_type="text/event-stream", headers=headers)

    return endpoint


def asset(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        name: str = request.path_params["asset"]
        suffix = name[name.rfind(".") :] if "." in name else ""
        data = _asset(name) if suffix in _ASSET_TYPES and "/" not in name else None
        if data is None:
            raise ApiError(404, f"No asset {name!r}", "asset_not_found")
        return Response(data, media_type=_ASSET_TYPES[suffix], headers={"Cache-Control": "max-age=300"})

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {
    "ui.root": root,
    "ui.jobs": jobs,
    "ui.job": job,
    "ui.journal": journal,
    "ui.scenarios": scenarios,
    "ui.events": events,
    "ui.asset": asset,
}
