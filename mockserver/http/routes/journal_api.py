"""``/_mock/journal``: read and clear the request journal."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.context import AppContext, Endpoint, HandlerFactory, QueryChecker
from mockserver.http.responses import JsonResponse
from mockserver.kit.journal import Query
from mockserver.spec.documents import Operation
from mockserver.spec.typed_text import int_or, is_true


def list_entries(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)

    async def endpoint(request: Request) -> Response:
        query.check(request.query_params)
        params = request.query_params
        status = params.get("status")
        wanted = Query(
            test_id=params.get("test_id"),
            method=params.get("method"),
            path_prefix=params.get("path"),
            status=int(status) if status else None,
            only_violations=is_true(params.get("violations")),
            since=int_or(params.get("since"), 0),
            offset=int_or(params.get("offset"), 0),
            limit=int_or(params.get("limit"), 100),
        )
        entries, total = ctx.journal.read(wanted)
        end = wanted.offset + len(entries)
        return JsonResponse(
            {
                "entries": [e.as_json() for e in entries],
                "total": total,
                "offset": wanted.offset,
                "next_offset": end if end < total else None,
                "last_seq": ctx.journal.last_seq,
            }
        )

    return endpoint


def clear_entries(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)

    async def endpoint(request: Request) -> Response:
        query.check(request.query_params)
        test_id = request.query_params.get("test_id")
        deleted = ctx.journal.clear(test_id)
        ctx.rules.forget(test_id)
        return JsonResponse({"deleted": deleted})

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"mock.journal_list": list_entries, "mock.journal_clear": clear_entries}
