"""Files the mock produced or received, and the mock's own health route."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from mockserver import __version__
from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.errors import ApiError
from mockserver.http.responses import JsonResponse
from mockserver.spec.documents import Operation


def get_file(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        stored = ctx.queue.files.get(request.path_params["file_id"])
        if stored is None or stored.name != request.path_params["file_name"]:
            raise ApiError(404, "File not found", "file_not_found")
        max_age = max(0, math.floor(stored.expires_at - ctx.clock.now()))
        headers = {
            "ETag": stored.etag,
            # The bytes behind a URL never change, so caches may keep them until expiry.
            "Cache-Control": f"public, max-age={max_age}, immutable",
            "Content-Disposition": f'inline; filename="{stored.name}"',
        }
        if stored.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(stored.data, media_type=stored.content_type, headers=headers)

    return endpoint


def health(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JsonResponse({"status": "ok", "version": __version__})

    return endpoint


FILE_HANDLER = "files.get"  # the operation whose path is the shape of every file URL (see FileLinks)
HANDLERS: dict[str, HandlerFactory] = {FILE_HANDLER: get_file, "mock.health": health}
