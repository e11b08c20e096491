"""Replay (``--replay DIR``): recorded answers, in front of the mock's routes.

The gate sits between the front (which journals every exchange, so ``flux-mock
check`` judges replayed traffic as any other) and the router. For a request it
finds the route as the router would and asks the
:class:`~mockserver.sim.replay_book.ReplayBook` for the recorded answer:

- a GET of a file the cassette holds gets its bytes, whatever route the path has;
- the mock's own routes (``/_mock``, documents marked ``x-mock-extension``),
  uploads and the proxy (whose forwarded call comes back through here) always
  go on to their routes;
- a request that needs credentials is refused without them (``--api-key``), as its route would;
- a recorded answer is sent with its recorded headers (its request id too: the
  front stamps no other), its links pointing at the address the client used;
- a request the cassette lacks is a miss: its route simulates it and the journal
  notes ``replay.miss``, or (``replay_miss="404"``) it gets a 404 in its API's
  error shape. Calls about a job or a file the mock made itself after a miss
  are simulated without a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.http.bodies import read_body
from mockserver.http.context import AppContext
from mockserver.http.errors import ApiError
from mockserver.http.passage import Passage
from mockserver.http.recorder import note_injected, note_replay_miss
from mockserver.http.routes import files, multipart_api, proxy, uploads_api
from mockserver.http.routing import RouteIndex
from mockserver.http.urls import base_url
from mockserver.sim.replay_book import ReplayBook, request_value
from mockserver.spec.documents import Operation

# Handlers whose requests the mock always serves itself: uploads make new inputs, and the proxy
# hands its call back to the app, where the gate sees the call it stands for.
SIMULATED = frozenset({*uploads_api.HANDLERS, *multipart_api.HANDLERS, *proxy.HANDLERS})
_READS_NO_BODY = ("GET", "HEAD")


class ReplayGate:
    def __init__(self, router: ASGIApp, routes: Sequence[Route], ctx: AppContext, book: ReplayBook) -> None:
        self.router = router
        self.index = RouteIndex(routes)
        self.ctx = ctx
        self.book = book
        self._operations = {op.operation_id: op for op in ctx.spec.operations}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        admin = self.ctx.spec.admin_prefix
        if path == admin or path.startswith(admin + "/"):  # (the front hands on HTTP requests only)
            await self.router(scope, receive, send)
            return
        method: str = scope["method"]
        found = self.index.find(scope)
        operation = self._operations.get(found[0].name) if found else None
        if found is not None:
            # As the router would set them: the journal names the operation from the route.
            route, params = found
            scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, params
        # The book decodes the path itself, from the bytes sent, as it decodes the recorded ones.
        raw_path = (scope.get("raw_path") or path.encode("utf-8")).decode("latin-1")
        stored = self.book.file(raw_path) if method in _READS_NO_BODY else None
        if stored is not None:
            await Response(stored.data, media_type=stored.content_type)(scope, receive, send)
            return
        if operation is not None and (operation.handler in SIMULATED or operation.document.is_extension):
            await self.router(scope, receive, send)
            return
        request = Request(scope, receive)
        if operation is not None:
            self.ctx.authorize(request, operation)  # a recorded answer is no way round --api-key
        body = b"" if method in _READS_NO_BODY else await read_body(request, self.ctx.settings.max_body_bytes)
        answer = self.book.answer(
            method, operation.operation_id if operation else None, raw_path, _body_value(scope, body), base_url(request)
        )
        if answer is None:
            again = receive if method in _READS_NO_BODY else _again(body, receive)
            await self._miss(scope, again, send, operation, found[1] if found else {})
            return
        if answer.status >= 400:  # the upstream's error, not the mock's: the journal says whose it was
            note_injected(scope, "answer", f"cassette exchange {answer.seq}")
        passage = getattr(send, "__self__", None)
        if isinstance(passage, Passage) and passage.id_header is not None:
            recorded = answer.headers.get(passage.id_header.decode("latin-1"))
            if recorded is not None:
                passage.keep_id(recorded.encode("latin-1"))
        await Response(answer.body, status_code=answer.status, headers=dict(answer.headers))(scope, receive, send)

    async def _miss(
        self, scope: Scope, receive: Receive, send: Send, operation: Operation | None, params: Mapping[str, Any]
    ) -> None:
        if operation is not None and self._made_here(operation, params):
            await self.router(scope, receive, send)  # the miss was noted when the mock made it
            return
        if self.ctx.settings.replay_miss == "404":
            note_replay_miss(scope, "404")
            raise ApiError(
                404, f"No recorded exchange matches {scope['method']} {scope['path']} in the cassette", "replay_miss"
            )
        note_replay_miss(scope, "simulated")
        await self.router(scope, receive, send)

    def _made_here(self, operation: Operation, params: Mapping[str, Any]) -> bool:
        """Whether a request is about a job or a file the mock itself made (after an earlier miss, or an upload)."""
        if {"owner", "app", "request_id"} <= params.keys():
            endpoint = f"{params['owner']}/{params['app']}"
            return self.ctx.queue.find(endpoint, str(params["request_id"])) is not None
        if operation.handler == files.FILE_HANDLER and "file_id" in params:
            return self.ctx.queue.files.get(str(params["file_id"])) is not None
        return False


def _body_value(scope: Scope, body: bytes) -> Any:
    media = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), "")
    return request_value(media, body)


def _again(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the body read already to the route, then waits on the server's."""
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
