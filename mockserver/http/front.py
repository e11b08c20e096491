"""The way in for every HTTP request: one ASGI callable in front of the router.

Starlette would stack a middleware per concern (server errors, header limit,
journal, request id, exception handlers), each wrapping ``send`` again and
each adding its frames to every request. The mock's concerns are fixed, so
they are done here in order, with one object around ``send`` (a
:class:`~mockserver.http.passage.Passage`, or the journal's ``Recording``;
``receive`` is the server's own):

1. headers over the limit are refused with a 431 (not journalled: nothing
   past this point has seen them);
2. a request id is made when the path's API hands them out
   (``x-mock-stamp-request-id``);
3. the exchange is copied for the journal (not ``/_mock/*``);
4. the router picks the route; whatever a handler or the router raises is
   turned into an answer by the exception handlers, in the dialect's shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.http import request_ids
from mockserver.http.errors import ApiError, render
from mockserver.http.passage import Passage
from mockserver.http.recorder import Recorder, Recording
from mockserver.sim import ids
from mockserver.spec.loader import Spec

log = logging.getLogger("mockserver")

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class Front:
    def __init__(
        self,
        router: ASGIApp,
        *,
        spec: Spec,
        recorder: Recorder,
        max_header_bytes: int,
        handlers: Mapping[type[Exception], ExceptionHandler],
    ) -> None:
        self.router = router
        self.spec = spec
        self.recorder = recorder
        self.max_header_bytes = max_header_bytes
        self.handlers = dict(handlers)
        # Each path prefix's request id header, longest prefix first, as document_for_path
        # would find them.
        self._id_headers = [(prefix, doc.stamped_request_id_header) for prefix, doc in spec.by_prefix]
        self._default_id_header = spec.document_for_path("").stamped_request_id_header
        self._admin_prefix = spec.admin_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        headers = scope["headers"]
        size = 4 * len(headers)  # ": " and CRLF
        for name, value in headers:
            size += len(name) + len(value)
        if size > self.max_header_bytes:
            error = ApiError(
                431,
                f"Request headers total {size} bytes, over the {self.max_header_bytes}-byte limit",
                "request_header_fields_too_large",
            )
            await render(self.spec.document_for_path(path), error)(scope, receive, send)
            return
        id_header = self._default_id_header
        for prefix, header in self._id_headers:
            if path.startswith(prefix):
                id_header = header
                break
        id_value = b""
        if id_header is not None:
            request_id = f"req_{ids.token_hex()}"
            id_value = request_id.encode("latin-1")
            # Set without resetting: each request runs in its own task and context.
            request_ids.set_current(request_id)
        if path.startswith(self._admin_prefix):
            passage = Passage(receive, send, id_header, id_value)
        else:
            passage = Recording(self.recorder, scope, receive, send, id_header, id_value)
        try:
            await self.router(scope, passage.receive, passage.send)
        except Exception as exc:
            if passage.started:
                raise  # nothing can be said any more: the server closes the connection
            response = await self._handle(scope, exc)
            await response(scope, receive, passage.send)
        finally:
            passage.done()

    async def _handle(self, scope: Scope, exc: Exception) -> Response:
        for kind in type(exc).__mro__:
            handler = self.handlers.get(kind)
            if handler is not None:
                return await handler(Request(scope), exc)
        raise exc
