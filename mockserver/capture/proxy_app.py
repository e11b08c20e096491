"""The recorder's ASGI app: every request passed to its upstream, every exchange written as it completes.

A request goes out as the client sent it (method, path, query, body and
headers, less the hop-by-hop ones and ``Host``) to the URL its route names,
with recorder links in a JSON body turned back into the upstream's. The
answer comes back with the upstream's status and headers; a JSON answer has
its links turned to the recorder (:mod:`.links`) and the files it links to
kept (:mod:`.linked_files`). Event streams are passed on line by line as they
arrive and written once they end; every other body is read whole first.

The cassette gets the upstream's own bodies, before any rewriting, so that it
is an honest record of what the service said. Calls under ``/_mock/`` are
passed on but not written: they steer a mock, they are not the API.
A failure to reach the upstream is a 502 with the reason, and is not written.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from mockserver.capture.linked_files import LinkedFiles
from mockserver.capture.links import Links, replaced, strings
from mockserver.capture.upstream_routes import RouteTable
from mockserver.cassette.writer import CassetteWriter, Upstream
from mockserver.http.routes.files import FILE_HANDLER
from mockserver.http.urls import base_url
from mockserver.kit.traffic_file import OperationMatcher, json_or_none
from mockserver.spec.file_links import FileLinks
from mockserver.spec.loader import Spec, default_spec

log = logging.getLogger("mockserver.capture")

# RFC 9110 §7.6.1: meaningful for one connection only, never passed on.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade",
})
# Host is the upstream's; the body may be rewritten (a new length); httpx asks for the encodings it decodes.
# The forwarding headers say where the client reached the recorder: its links already say so, and an
# upstream told too would put the prefix in its links a second time.
_FORWARDING = frozenset({
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port", "x-forwarded-prefix",
    "x-forwarded-proto",
})
_NOT_FORWARDED = HOP_BY_HOP | _FORWARDING | {"host", "content-length", "accept-encoding"}
# Bodies reach the client decoded and perhaps rewritten, so their length and encoding are the recorder's;
# uvicorn adds its own Date and Server, which would otherwise come twice.
_NOT_ANSWERED = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}
_LINK_HEADERS = frozenset({"location", "content-location"})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=600.0)  # a sync run or a quiet stream may take minutes


def trust(upstream_ca: Path | str | None) -> ssl.SSLContext:
    """The system's roots, and ``upstream_ca``'s certificates too when given."""
    context = ssl.create_default_context()
    if upstream_ca is not None:
        context.load_verify_locations(cafile=str(upstream_ca))
    return context


class RecordingApp:
    def __init__(
        self,
        routes: Sequence[Upstream],
        writer: CassetteWriter,
        *,
        spec: Spec | None = None,
        upstream_ca: Path | str | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        spec = spec or default_spec()
        self.table = RouteTable(routes)
        self.writer = writer
        self.files = LinkedFiles(writer)
        self._matcher = OperationMatcher(spec)
        self._file_links = FileLinks.of(spec, FILE_HANDLER)
        self._admin_prefix = spec.admin_prefix  # the mock's own routes: steering, not the API
        self._clock = clock
        self._started = clock()
        self._verify = trust(upstream_ca)
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            response = await self._answer(Request(scope, receive))
            await response(scope, receive, send)
        elif scope["type"] == "websocket":  # realtime is not recorded
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                    self._client = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # No proxies or .netrc from the environment: the recorder reaches the hosts it was given, as given.
            self._client = httpx.AsyncClient(
                verify=self._verify, timeout=self._timeout, trust_env=False, follow_redirects=False
            )
        return self._client

    async def _answer(self, request: Request) -> Response:
        try:
            return await self._relay(request)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except Exception as exc:  # a bug here must not take the recording down with it
            log.exception("relaying %s %s failed", request.method, request.url.path)
            return _error(502, f"the recorder could not relay {request.url.path}: {type(exc).__name__}: {exc}")

    async def _relay(self, request: Request) -> Response:
        scope = request.scope
        method, path = request.method, scope["path"]
        raw_path = (scope.get("raw_path") or path.encode("utf-8")).decode("latin-1")
        if method in ("GET", "HEAD"):
            kept = self.files.get(raw_path)
            if kept is not None:
                served = {"content-type": kept.content_type, "content-length": str(len(kept.data))}
                return Response(kept.data if method == "GET" else b"", headers=served)
        at = self._clock() - self._started  # after the kept files: serving them again is not an exchange
        route = self.table.find(raw_path)  # the path it is cut from: /%72un is no way into /run
        if route is None:
            return _error(404, f"no route for {path}: start the recorder with --route PREFIX=URL for it")
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.table.forwarded(route, raw_path, query)
        links = Links(base_url(request), self.table, self._file_links)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        dropped = _NOT_FORWARDED | _connection_named(headers)
        sent = [(k, v) for k, v in headers if k.lower() not in dropped]
        body = self._outgoing(await request.body(), request.headers.get("content-type", ""), links)
        client = self.client()
        try:
            answer = await client.send(client.build_request(method, url, headers=sent, content=body), stream=True)
        except httpx.InvalidURL as exc:
            return _error(400, f"cannot forward {path}: {exc}")
        except httpx.HTTPError as exc:
            return _unreachable(route, exc)
        recorded = not (path == self._admin_prefix or path.startswith(self._admin_prefix + "/"))

        def write(answer_body: bytes) -> None:
            if not recorded:
                return
            found = self._matcher.find(method, path)
            self.writer.add(
                at=at, operation=found[0].operation_id if found else None, method=method,
                path=raw_path + (f"?{query}" if query else ""), url=url, request_headers=sent, request_body=body,
                status=answer.status_code, response_headers=answer.headers.multi_items(), response_body=answer_body,
            )

        not_answered = _NOT_ANSWERED | _connection_named(answer.headers.multi_items())
        answered = [(k, links.to_client(v) if k in _LINK_HEADERS else v)
                    for k, v in answer.headers.multi_items() if k not in not_answered]
        if "text/event-stream" in answer.headers.get("content-type", "").lower():
            streamed = StreamingResponse(self._stream(answer, links, write), status_code=answer.status_code)
            streamed.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answered]
            return streamed
        try:
            original = await answer.aread()
        except httpx.HTTPError as exc:
            return _unreachable(route, exc)
        finally:
            await answer.aclose()
        shown = await self._incoming(original, answer.headers.get("content-type", ""), links)
        await anyio.to_thread.run_sync(write, original)
        # A HEAD answer has no body to measure: the upstream's length is the one that means something.
        length = answer.headers.get("content-length") if method == "HEAD" else None
        fixed = {"content-length": length} if length else None
        response = Response(shown, status_code=answer.status_code, headers=fixed)
        response.raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answered]
        return response

    def _outgoing(self, body: bytes, media: str, links: Links) -> bytes:
        """The client's body as the upstream should see it: recorder links turned back."""
        doc = json_or_none(body, media)
        if doc is None:
            return body
        sources = self.files.sources()
        changed = replaced(doc, lambda text: links.to_upstream(text, sources))
        return body if changed == doc else _dumps(changed)

    async def _incoming(self, body: bytes, media: str, links: Links) -> bytes:
        """The upstream's body as the client should see it: links through the recorder, files kept."""
        doc = json_or_none(body, media)
        if doc is None:
            return body
        changed = await self._shown(doc, links)
        return body if changed == doc else _dumps(changed)

    async def _shown(self, doc: Any, links: Links) -> Any:
        wanted = {text: local for text in strings(doc) if (local := links.file_path(text)) is not None}
        kept = await self.files.keep(self.client(), wanted) if wanted else {}

        def change(text: str) -> str:
            local = kept.get(text)
            return links.origin + local if local is not None else links.to_client(text)

        return replaced(doc, change)

    async def _stream(
        self, answer: httpx.Response, links: Links, write: Callable[[bytes], None]
    ) -> AsyncIterator[bytes]:
        """Pass an event stream on as its lines arrive, each ``data:`` line's links rewritten."""
        received = bytearray()
        pending = b""
        try:
            async for chunk in answer.aiter_bytes():
                received += chunk
                *lines, pending = (pending + chunk).split(b"\n")
                if lines:
                    yield b"".join([await self._event_line(line, links) + b"\n" for line in lines])
            if pending:
                yield await self._event_line(pending, links)
        except httpx.HTTPError as exc:  # the upstream broke off: the client's stream ends here too
            log.warning("stream from %s ended early: %s", answer.url, exc)
        finally:
            try:
                await answer.aclose()
            finally:
                write(bytes(received))  # what arrived, however the stream ended

    async def _event_line(self, line: bytes, links: Links) -> bytes:
        if not line.startswith(b"data:"):
            return line
        ending = b"\r" if line.endswith(b"\r") else b""
        payload = line[5:].strip()
        doc = json_or_none(payload, "application/json")
        if doc is None:
            return line
        changed = await self._shown(doc, links)
        return line if changed == doc else b"data: " + _dumps(changed) + ending


def _connection_named(headers: Sequence[tuple[str, str]]) -> set[str]:
    """Headers that ``Connection`` names are for this hop only, like the hop-by-hop ones."""
    return {
        token.strip().lower()
        for name, value in headers if name.lower() == "connection"
        for token in value.split(",") if token.strip()
    }


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error(status: int, detail: str) -> Response:
    return Response(_dumps({"detail": detail}), status_code=status, media_type="application/json")


def _unreachable(route: Upstream, exc: Exception) -> Response:
    reason = str(exc) or type(exc).__name__
    log.warning("upstream %s unreachable: %s", route.url, reason)
    return _error(502, f"upstream {route.url} unreachable: {type(exc).__name__}: {reason}")
