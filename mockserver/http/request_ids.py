"""A request id on every answer, for APIs whose clients read one from a header.

A spec document opts in with ``x-mock-request-id-header`` (the OpenAI API uses
``x-request-id``). The id is made before routing, so 404s, 405s and crashes
carry it too, and error renderers can quote it (:func:`current`).
"""

from __future__ import annotations

import contextvars
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.spec import Spec

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request being answered, when its API hands out ids."""
    return _CURRENT.get()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, spec: Spec) -> None:
        self.app = app
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        document = self.spec.document_for_path(scope.get("path", ""))
        header = document.raw.get("x-mock-request-id-header")
        if not header:
            await self.app(scope, receive, send)
            return
        request_id = f"req_{uuid.uuid4().hex}"
        # Set without resetting: the outermost error handler, which runs after this
        # returns, still quotes the id; each request runs in its own task and context.
        _CURRENT.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[str(header)] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
