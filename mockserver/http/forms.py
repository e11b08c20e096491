"""Reading a multipart/form-data body within limits: text fields and uploaded files."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message

from mockserver.http.bodies import read_body
from mockserver.http.errors import ApiError

FORM_TYPE = "multipart/form-data"


@dataclass(frozen=True)
class Upload:
    field: str  # the form name it came under, e.g. "image[]"
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)


async def read_form(request: Request, limit: int, max_files: int, max_fields: int) -> Form:
    """The parts of a multipart body, in order; 413 over ``limit``, 415 for another media type, 400 if malformed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise ApiError(
            415, f"Unsupported Content-Type {media_type or 'none'!r}: send the body as {FORM_TYPE}",
            "unsupported_media_type",
        )
    # The whole body is read under the size cap first; the parser then works on those bytes only.
    raw = await read_body(request, limit)
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        parsed = await Request(request.scope, replay).form(
            max_files=max_files, max_fields=max_fields, max_part_size=limit
        )
    except HTTPException as exc:
        raise ApiError(400, f"Malformed multipart body: {exc.detail}", "bad_request") from None
    except (MultiPartException, FormParserError, ValueError) as exc:
        raise ApiError(400, f"Malformed multipart body: {exc}", "bad_request") from None
    form = Form()
    try:
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                form.files.append(Upload(name, value.filename or "", value.content_type or "", data))
            else:
                form.fields.setdefault(name, []).append(value)
    finally:
        await parsed.close()
    return form
