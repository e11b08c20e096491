"""Reading a request body within limits, with errors a client can act on.

Every request body the mock reads is read here. What was read (all of it, or
as far as a refusal or a disconnect let it get) is left in the scope under
:data:`BODY_READ`, where the journal's recording takes it: the journal keeps
the body the app read without a wrapper around ``receive`` on every request.
An upload's body is the exception (:func:`stream_upload`): it goes to the file
store's spool as it arrives, and the journal learns only its size
(:data:`BODY_STREAMED`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Scope

from mockserver.http.errors import ApiError
from mockserver.sim.disk_space import DiskFull, DiskPart, Spool
from mockserver.spec.jsontext import decode
from mockserver.spec.validation import Issue, Loc

JSON_TYPES = ("application/json",)
# The scope key of the body read so far (an extension key: ASGI leaves namespaced keys to apps).
BODY_READ = "mockserver.body_read"
# The size of an upload's body, which was streamed to the store rather than kept (see stream_upload).
BODY_STREAMED = "mockserver.body_streamed"
# In a scope made from another (the proxy route's), that other scope: what is read is noted in both.
PARENT_SCOPE = "mockserver.parent_scope"


def note_read(scope: Scope | None, body: bytes, streamed: int | None = None) -> None:
    """Leave ``body`` as what was read of this request (and of the requests it was made from);
    ``streamed``: the size of a body that was not kept, ``body`` being empty."""
    while scope is not None:
        scope[BODY_READ] = body
        if streamed is not None:
            scope[BODY_STREAMED] = streamed
        scope = scope.get(PARENT_SCOPE)


def header_of(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes, as ASGI spells it).

    Read straight from the scope: building Starlette's Headers for a lookup or
    two on every request costs more than the lookups.
    """
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def read_body(request: Request, limit: int) -> bytes:
    check_declared(header_of(request, b"content-length"), limit)
    if hasattr(request, "_body"):
        return request._body  # read already, through Starlette's body()
    # The messages straight from ``receive``: Starlette's stream() is an async
    # generator whose machinery cost as much as the rest of reading a small body.
    message = await request.receive()
    body = _whole(request, message, limit)
    if body is None:
        body = await _read_rest(request, limit, message)
    request._body = body  # where Starlette's own readers (body(), form()) look before reading a spent stream
    return body


def check_declared(declared: str | None, limit: int) -> None:
    """Refuse a body by its Content-Length before reading it."""
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(400, "Content-Length is not a number", "bad_request")
        if int(declared) > limit:
            raise too_large(limit)


async def stream_upload(request: Request, spool: Spool, limit: int) -> bytes | DiskPart:
    """An upload's body, fed to ``spool`` as it arrives, within ``limit`` bytes (413 past it, declared
    or sent). It is never read whole: past its memory share the spool writes to disk. Refused (413,
    or 507 when unfinished uploads fill the disk) or cut short by the client leaving
    (``ClientDisconnect``), it leaves nothing behind."""
    check_declared(header_of(request, b"content-length"), limit)
    try:
        async for chunk in request.stream():
            if spool.size + len(chunk) > limit:
                raise too_large(limit)
            spool.write(chunk)
        return spool.finish()
    except (DiskFull, OSError) as exc:  # the budget, or the disk itself, is full
        spool.discard()
        raise ApiError(507, f"Cannot keep the upload: {exc}", "insufficient_storage") from None
    except BaseException:  # a refusal, the client leaving, or the server stopping mid-upload
        spool.discard()
        raise
    finally:
        note_read(request.scope, b"", streamed=spool.size)


def _whole(request: Request, message: Message, limit: int) -> bytes | None:
    """The body, when this first message holds all of it (the usual small body); else None."""
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        note_read(request.scope, body)
        if len(body) > limit:
            raise too_large(limit)
        return body
    return None


async def _read_rest(request: Request, limit: int, message: Message) -> bytes:
    """The body whose first message is ``message``, read to its end within ``limit``."""
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    raise too_large(limit)
                if not message.get("more_body", False):
                    break
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect()
            message = await request.receive()
    finally:  # the whole body, or what came before a refusal or a disconnect
        body = b"".join(chunks)
        note_read(request.scope, body)
    return body


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"Request body exceeds the {limit}-byte limit", "payload_too_large")


async def read_json(request: Request, limit: int) -> Any:
    # Both headers in one pass over the scope's (the first of each counts, as in header_of).
    content_type = declared = None
    for key, value in request.scope["headers"]:
        if key == b"content-type":
            if content_type is None:
                content_type = value.decode("latin-1")
        elif key == b"content-length" and declared is None:
            declared = value.decode("latin-1")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type and media_type not in JSON_TYPES and not media_type.endswith("+json"):
        raise ApiError(
            415,
            f"Unsupported Content-Type {media_type!r}: send the body as application/json",
            "unsupported_media_type",
        )
    check_declared(declared, limit)
    # As read_body does, written out: every JSON request comes this way.
    raw: bytes | None
    if hasattr(request, "_body"):
        raw = request._body
    else:
        message = await request.receive()
        raw = _whole(request, message, limit)
        if raw is None:
            raw = await _read_rest(request, limit, message)
        request._body = raw
    if not raw or raw.isspace():  # (strip() would copy every body to learn this)
        raise _json_error("request body is empty", 0)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _json_error(f"body is not UTF-8: {exc.reason}", exc.start) from None
    try:
        value = decode(text)
    except json.JSONDecodeError as exc:
        raise _json_error(exc.msg, exc.pos) from None
    except RecursionError:
        raise _json_error("JSON is nested too deeply", 0) from None
    except ValueError as exc:  # NaN/Infinity, a number out of range, or an integer too long to convert
        raise _json_error(str(exc), 0) from None
    if _SURROGATE_ESCAPE.search(text):
        # "\ud800" is valid JSON but not text: it could not be stored, drawn
        # or sent back as UTF-8, so it is refused here, naming the field.
        try:
            where = _lone_surrogate(value, ("body",))
        except RecursionError:
            raise _json_error("JSON is nested too deeply", 0) from None
        if where is not None:
            issue = Issue(where, "string contains an unpaired UTF-16 surrogate escape", "value_error.unicode")
            raise ApiError(422, f"{issue.field_path}: {issue.msg}", "validation_error", issues=[issue])
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any, loc: Loc) -> Loc | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return loc
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _lone_surrogate(key, loc) or _lone_surrogate(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, (*loc, index))
            if found is not None:
                return found
    return None


def _json_error(message: str, position: int) -> ApiError:
    issue = Issue(("body", position), "JSON decode error", "value_error.jsondecode", {"msg": message, "pos": position})
    return ApiError(422, f"JSON decode error: {message}", "validation_error", issues=[issue])
