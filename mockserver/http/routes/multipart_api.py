"""Multipart uploads, the way both fal clients send files too large for one request.

``fal-client`` (Python, above 100 MiB) starts one on the CDN (``POST
/files/upload/multipart``, the file's type and name in headers) and reads
``access_url`` and ``uploadId``; ``@fal-ai/client`` (above 90 MiB) starts one on
the REST host (``POST /storage/upload/initiate-multipart``, a JSON body) and
reads ``upload_url`` and ``file_url``. From there both send the same calls,
under the file's own URL: each part to ``{file_url}/multipart/{upload_id}/{n}``
(Python ten at a time and reading the ``ETag`` header, JavaScript one by one
and reading ``partNumber`` and ``etag`` from the JSON answer), then
``{file_url}/multipart/{upload_id}/complete`` with the list of parts.

Parts are streamed to disk as they arrive (``Spool`` with no memory share);
completing hands them, in order, to the file store as one file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.bodies import read_body, stream_upload
from mockserver.http.context import AppContext, Endpoint, HandlerFactory, QueryChecker
from mockserver.http.errors import ApiError, validation_failed
from mockserver.http.queue_headers import QueueHeaders
from mockserver.http.responses import JsonResponse
from mockserver.http.routes.uploads_api import described_file, file_answer, file_name, media_type
from mockserver.http.urls import base_url
from mockserver.sim.disk_space import DiskPart, Spool
from mockserver.sim.multipart_uploads import (
    MAX_PARTS,
    MultipartError,
    PartsMismatch,
    Session,
    UploadCompleted,
    UploadNotFound,
    UploadTooLarge,
    part_etag,
)
from mockserver.spec.documents import Operation
from mockserver.spec.validation import Issue

_SMALL = 64 * 1024  # the most a body that carries nothing but names may be


def _refusal(error: MultipartError) -> ApiError:
    if isinstance(error, UploadNotFound):
        return ApiError(404, str(error), "upload_not_found")
    if isinstance(error, UploadCompleted):
        return ApiError(400, str(error), "upload_completed")
    if isinstance(error, UploadTooLarge):
        return ApiError(413, str(error), "payload_too_large")
    assert isinstance(error, PartsMismatch)
    return ApiError(400, str(error), "invalid_parts")


def _file_url(ctx: AppContext, request: Request, session: Session) -> str:
    return ctx.queue.links.url(base_url(request), session.file_id, session.name)


def create(operation: Operation, ctx: AppContext) -> Endpoint:
    """fal-client's start, on the CDN: the file's type and name come as headers, with no body."""
    lifecycle = QueueHeaders(operation)

    async def endpoint(request: Request) -> Response:
        await read_body(request, _SMALL)  # none is expected; a large one is refused, not read
        content_type = media_type(request.headers.get("content-type"))
        name = file_name(request.headers.get("x-fal-file-name"), content_type)
        upload_id, session = ctx.multipart.start(name, content_type, lifecycle.file_seconds(request.headers))
        return JsonResponse({"access_url": _file_url(ctx, request, session), "uploadId": upload_id})

    return endpoint


def initiate(operation: Operation, ctx: AppContext) -> Endpoint:
    """@fal-ai/client's start, on the REST host: the file's type and name in a JSON body."""
    query = QueryChecker(operation)
    lifecycle = QueueHeaders(operation)

    async def endpoint(request: Request) -> Response:
        name, content_type = await described_file(ctx, operation, query, request)
        upload_id, session = ctx.multipart.start(name, content_type, lifecycle.file_seconds(request.headers))
        file_url = _file_url(ctx, request, session)
        return JsonResponse({"upload_url": f"{file_url}/multipart/{upload_id}", "file_url": file_url})

    return endpoint


def _part_number(text: str) -> int:
    # ASCII digits only: no sign, no spaces, no "1e3", and none of the other scripts' digits
    # ("²" is a digit to str.isdigit, not to int).
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PARTS:
        return int(text)
    issue = Issue(("path", "part_number"), f"part number must be an integer from 1 to {MAX_PARTS}", "value_error")
    raise validation_failed([issue])


def put_part(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        params = request.path_params
        number = _part_number(params["part_number"])
        where = (params["upload_id"], params["file_id"], params["file_name"])
        try:
            session = ctx.multipart.open_session(*where)
        except MultipartError as exc:
            raise _refusal(exc) from None
        spool = Spool(ctx.queue.files.disk, 0)  # every byte to disk: parts make large files
        received = await stream_upload(request, spool, ctx.multipart.room_for(session, number))
        if not isinstance(received, DiskPart):  # nothing came (a spool without memory writes every byte)
            raise ApiError(400, "Part body is empty: send the part's bytes", "empty_upload")
        try:
            ctx.multipart.add_part(*where, number, received)  # still open? it may have expired meanwhile
        except MultipartError as exc:
            raise _refusal(exc) from None
        etag = part_etag(received)
        # The ETag header for fal-client, the same in the body for @fal-ai/client.
        return JsonResponse({"partNumber": number, "etag": etag}, headers={"ETag": etag})

    return endpoint


def complete(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        body = await ctx.read_valid_body(request, operation)
        params = request.path_params
        listed = [(int(part["partNumber"]), str(part["etag"])) for part in body["parts"]]
        try:
            session, parts = ctx.multipart.complete(params["upload_id"], params["file_id"], params["file_name"], listed)
        except MultipartError as exc:
            raise _refusal(exc) from None
        if parts:  # the first completion (a repeated one finds the file stored already)
            files = ctx.queue.files
            files.put_parts(parts, session.content_type, session.name, session.file_seconds, file_id=session.file_id)
        return file_answer(ctx, request, session.file_id, session.name, session.content_type, session.size)

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {
    "storage.multipart_create": create,
    "storage.multipart_initiate": initiate,
    "storage.multipart_part": put_part,
    "storage.multipart_complete": complete,
}
