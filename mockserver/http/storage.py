"""Uploads as ``fal-client`` performs them: a token from the REST host, then raw bytes to the CDN.

Uploaded files land in the same store as generated images, so the URL the
upload returns is one the mock itself can read back as an input image.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mockserver.http.bodies import read_body
from mockserver.http.context import AppContext, Endpoint, HandlerFactory, QueryChecker
from mockserver.http.errors import ApiError
from mockserver.http.urls import base_url
from mockserver.spec import Operation

TOKEN_SECONDS = 3600
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


def token(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        query.check(request.query_params)
        await read_body(request, 64 * 1024)  # `{}` from the client; nothing in it matters
        # The client compares the expiry with its own wall clock, not the mock's simulated one.
        expires = datetime.fromtimestamp(time.time() + TOKEN_SECONDS, UTC)
        return JSONResponse(
            {
                "token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "base_url": base_url(request),
                "expires_at": expires.isoformat(),
            }
        )

    return endpoint


def file_name(requested: str | None, content_type: str) -> str:
    """A name that fits one URL path segment, keeping the client's where possible."""
    cleaned = _UNSAFE.sub("_", (requested or "").strip()).strip("._")[:120]
    if cleaned:
        return cleaned
    return f"upload.{_EXTENSIONS.get(content_type, 'bin')}"


def upload(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        data = await read_body(request, ctx.settings.max_body_bytes)
        if not data:
            raise ApiError(400, "Upload body is empty: send the file's bytes", "empty_upload")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        content_type = content_type or "application/octet-stream"
        name = file_name(request.headers.get("x-fal-file-name"), content_type)
        file_id = ctx.queue.files.put(data, content_type, name)
        return JSONResponse(
            {
                "access_url": f"{base_url(request)}/files/{file_id}/{name}",
                "content_type": content_type,
                "file_name": name,
                "file_size": len(data),
            }
        )

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"storage.token": token, "storage.upload": upload}
