"""Uploads as fal's clients perform them.

``fal-client`` (Python) asks the REST host for a token and POSTs raw bytes to
the CDN; ``@fal-ai/client`` (and Python's fallback) initiates an upload on the
REST host, then PUTs the bytes to the URL it got back. Larger files go in
parts (``multipart_api.py``).

Uploaded files land in the same store as generated images, so the URL the
upload returns is one the mock itself can read back as an input image. Their
bodies are streamed (``bodies.stream_upload``) within the upload limit, not
the smaller one for JSON bodies, and large ones go to disk as they arrive.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.bodies import read_body, read_json, stream_upload
from mockserver.http.context import AppContext, Endpoint, HandlerFactory, QueryChecker
from mockserver.http.errors import ApiError, validation_failed
from mockserver.http.queue_headers import QueueHeaders
from mockserver.http.responses import JsonResponse
from mockserver.http.urls import base_url
from mockserver.sim.disk_space import DiskPart, Spool
from mockserver.spec.documents import Operation
from mockserver.spec.validation import validate

TOKEN_SECONDS = 3600
_START_BODY_BYTES = 64 * 1024  # an upload's start names a file: a small JSON body
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
OCTET_STREAM = "application/octet-stream"
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


def token(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        query.check(request.query_params)
        # `{}` from the client, or nothing; nothing in it matters, but it must be what the spec says.
        if (await read_body(request, 64 * 1024)).strip():
            issues = validate(ctx.body_validator(operation), await read_json(request, 64 * 1024))
            if issues:
                raise validation_failed(issues)
        # The client compares the expiry with its own wall clock, not the mock's simulated one.
        expires = datetime.fromtimestamp(time.time() + TOKEN_SECONDS, UTC)
        return JsonResponse(
            {
                "token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "base_url": base_url(request),
                "expires_at": expires.isoformat(),
            }
        )

    return endpoint


def media_type(declared: str | None, fallback: str = OCTET_STREAM) -> str:
    """The declared type without parameters, if it is one; served back later as Content-Type."""
    value = (declared or "").split(";")[0].strip().lower()
    return value if _MEDIA_TYPE.match(value) else fallback


def file_name(requested: str | None, content_type: str) -> str:
    """A name that fits one URL path segment, keeping the client's where possible."""
    cleaned = _UNSAFE.sub("_", (requested or "").strip()).strip("._")[:120]
    if cleaned:
        return cleaned
    return f"upload.{_EXTENSIONS.get(content_type, 'bin')}"


async def receive_file(request: Request, ctx: AppContext) -> bytes | DiskPart:
    """A whole file as the request body: its bytes if small, else its file on disk; never empty."""
    spool = Spool(ctx.queue.files.disk, ctx.settings.upload_spool_bytes)
    received = await stream_upload(request, spool, ctx.settings.max_upload_bytes)
    if not received:  # (a file on disk has at least one byte)
        raise ApiError(400, "Upload body is empty: send the file's bytes", "empty_upload")
    return received


def keep_file(
    ctx: AppContext,
    received: bytes | DiskPart,
    content_type: str,
    name: str,
    ttl_seconds: float | None = None,
    *,
    file_id: str | None = None,
) -> str:
    """Store a received file where it is, in memory or on disk, for ``ttl_seconds`` (None: the
    store's default); its id."""
    if isinstance(received, DiskPart):
        return ctx.queue.files.put_parts([received], content_type, name, ttl_seconds, file_id=file_id)
    return ctx.queue.files.put(received, content_type, name, ttl_seconds, file_id=file_id)


def file_answer(ctx: AppContext, request: Request, file_id: str, name: str, content_type: str, size: int) -> Response:
    """What the CDN answers for a stored upload."""
    return JsonResponse(
        {
            "access_url": ctx.queue.links.url(base_url(request), file_id, name),
            "content_type": content_type,
            "file_name": name,
            "file_size": size,
        }
    )


def upload(operation: Operation, ctx: AppContext) -> Endpoint:
    lifecycle = QueueHeaders(operation)

    async def endpoint(request: Request) -> Response:
        received = await receive_file(request, ctx)
        content_type = media_type(request.headers.get("content-type"))
        name = file_name(request.headers.get("x-fal-file-name"), content_type)
        file_id = keep_file(ctx, received, content_type, name, lifecycle.file_seconds(request.headers))
        size = received.size if isinstance(received, DiskPart) else len(received)
        return file_answer(ctx, request, file_id, name, content_type, size)

    return endpoint


async def described_file(
    ctx: AppContext, operation: Operation, query: QueryChecker, request: Request
) -> tuple[str, str]:
    """The name and media type of the file an upload's start describes in its JSON body (both
    the two-step and the multipart start on the REST host), once the call is checked."""
    ctx.authorize(request, operation)
    query.check(request.query_params)
    body = await read_json(request, _START_BODY_BYTES)
    issues = validate(ctx.body_validator(operation), body)
    if issues:
        raise validation_failed(issues)
    content_type = media_type(body.get("content_type"))
    return file_name(body.get("file_name"), content_type), content_type


def initiate(operation: Operation, ctx: AppContext) -> Endpoint:
    """Step one of the two-step upload: where to PUT the bytes, and the file's final URL."""
    query = QueryChecker(operation)
    lifecycle = QueueHeaders(operation)

    async def endpoint(request: Request) -> Response:
        name, content_type = await described_file(ctx, operation, query, request)
        upload_id, slot = ctx.uploads.reserve(name, content_type, lifecycle.file_seconds(request.headers))
        base = base_url(request)
        return JsonResponse(
            {
                "upload_url": f"{base}/files/upload/{upload_id}",
                "file_url": ctx.queue.links.url(base, slot.file_id, slot.name),
            }
        )

    return endpoint


def put_upload(operation: Operation, ctx: AppContext) -> Endpoint:
    """Step two: the bytes, PUT to the URL step one returned."""

    async def endpoint(request: Request) -> Response:
        slot = ctx.uploads.get(request.path_params["upload_id"])
        if slot is None:
            raise ApiError(404, "Upload URL not found or expired: initiate the upload again", "upload_not_found")
        received = await receive_file(request, ctx)
        if ctx.uploads.get(request.path_params["upload_id"]) is None:  # expired while the bytes came
            if isinstance(received, DiskPart):
                ctx.queue.files.disk.delete(received)
            raise ApiError(404, "Upload URL not found or expired: initiate the upload again", "upload_not_found")
        content_type = media_type(request.headers.get("content-type"), slot.content_type)
        keep_file(ctx, received, content_type, slot.name, slot.file_seconds, file_id=slot.file_id)
        return JsonResponse({"file_url": ctx.queue.links.url(base_url(request), slot.file_id, slot.name)})

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {
    "storage.token": token,
    "storage.upload": upload,
    "storage.initiate": initiate,
    "storage.put": put_upload,
}
