"""Limits every request meets before routing: the size of its headers.

uvicorn's fast parser (httptools) sets no bound on header size, so the mock
sets its own and answers 431 in the API's error shape, as a server behind a
proxy would, instead of handing megabytes of headers to a handler.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.http.errors import ApiError, render


class HeaderLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, dialect: Callable[[str], str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.dialect = dialect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                error = ApiError(
                    431, f"Request headers total {size} bytes, over the {self.max_bytes}-byte limit",
                    "request_header_fields_too_large",
                )
                await render(self.dialect(scope["path"]), error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
