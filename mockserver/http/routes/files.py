"""Files the mock produced or received, and the mock's own health route."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver import __version__
from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.errors import ApiError
from mockserver.http.responses import JsonResponse
from mockserver.sim.stores import StoredFile
from mockserver.spec.documents import Operation

READ_CHUNK = 1024 * 1024  # a file on disk goes out a MiB at a time, read off the event loop


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
        if stored.on_disk:
            return _from_disk(stored, headers, head=request.method == "HEAD")
        return Response(stored.data, media_type=stored.content_type, headers=headers)

    return endpoint


def _from_disk(stored: StoredFile, headers: dict[str, str], *, head: bool) -> Response:
    """A large upload, streamed from its files. They are all opened first: a file evicted while it
    is being sent still reads to its end (an open file outlives its name)."""
    headers = {**headers, "Content-Length": str(stored.size)}
    if head:
        return Response(media_type=stored.content_type, headers=headers)
    files: list[BinaryIO] = []
    try:
        for part in stored.parts:
            files.append(open(part.path, "rb"))  # noqa: SIM115  # closed by the stream below
    except FileNotFoundError:  # removed from under the store (by hand): as good as gone
        for file in files:
            file.close()
        raise ApiError(404, "File not found", "file_not_found") from None
    return StreamingResponse(_chunks(files), media_type=stored.content_type, headers=headers)


async def _chunks(files: list[BinaryIO]) -> AsyncIterator[bytes]:
    try:
        for file in files:
            while chunk := await anyio.to_thread.run_sync(file.read, READ_CHUNK):
                yield chunk
    finally:
        for file in files:
            with contextlib.suppress(OSError):
                file.close()


def health(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JsonResponse({"status": "ok", "version": __version__})

    return endpoint


FILE_HANDLER = "files.get"  # the operation whose path is the shape of every file URL (see FileLinks)
HANDLERS: dict[str, HandlerFactory] = {FILE_HANDLER: get_file, "mock.health": health}
