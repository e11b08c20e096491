"""Recording every exchange in the journal, as plain ASGI middleware.

Plain ASGI (not Starlette's BaseHTTPMiddleware) so streams pass through
untouched and the cost per request stays a few copies: the request body is
copied as the app reads it, the response's status, headers and (small, JSON)
body as they are sent. The rules and the summaries run when the journal is
read (see :class:`~mockserver.journal.Journal`), in the order the exchanges
happened, so a mock nobody asks about spends nothing on judging.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.client_rules import ClientRules, Exchange
from mockserver.clock import Clock
from mockserver.journal import Entry, Journal, redact_headers, summarize
from mockserver.spec import Operation, Spec

log = logging.getLogger("mockserver")

TEST_ID_HEADER = "x-mock-test-id"
ADMIN_PREFIX = "/_mock"
_MAX_RESPONSE_COPY = 256 * 1024
# Exchanges bigger than this are judged at once instead of held, bytes and all, until a read.
_KEEP_UNJUDGED_BYTES = 16 * 1024


class Recorder:
    """What the middleware needs: where to write, which rules, how to name routes."""

    def __init__(self, journal: Journal, rules: ClientRules, spec: Spec, clock: Clock, max_body: int) -> None:
        self.journal = journal
        self.rules = rules
        self.clock = clock
        self.max_body = max_body
        self._operations = {op.operation_id: op for op in spec.operations}
        self._routes_by_endpoint: dict[Any, BaseRoute] = {}

    def know_routes(self, routes: Sequence[BaseRoute]) -> None:
        # Starlette before 1.8 puts only the endpoint, not the route, in the scope.
        self._routes_by_endpoint = {getattr(r, "endpoint", None): r for r in routes}

    def route_of(self, scope: Scope) -> BaseRoute | None:
        """The route Starlette's router chose for this request, if it chose one."""
        route: BaseRoute | None = scope.get("route")
        return route if route is not None else self._routes_by_endpoint.get(scope.get("endpoint"))

    def operation_of(self, seen: _Seen) -> tuple[Operation | None, Mapping[str, str]]:
        """The operation a request was routed to, with its path parameters (None: no route took it)."""
        route = seen.route
        if route is None or not isinstance(route, Route) or (route.methods and seen.method not in route.methods):
            return None, {}  # not routed, or routed only to answer 405
        return self._operations.get(route.name), seen.path_params


@dataclass(frozen=True)
class _Seen:
    """One exchange as it passed: copies only, judged later (see :class:`Journal`)."""

    at: float
    method: str
    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: BaseRoute | None
    path_params: Mapping[str, str]
    status: int
    response_headers: list[tuple[bytes, bytes]]
    response_body: bytes
    finished: bool
    duration_ms: float


class RecorderMiddleware:
    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        rec = self.recorder
        started = time.perf_counter()
        at = rec.clock.now()
        body = bytearray()
        answer: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray(), "finished": False}

        async def receive_copy() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) <= rec.max_body:
                body.extend(message.get("body", b""))
            return message

        async def send_copy(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message.get("headers", [])
                # Only JSON answers are read by the rules: images and streams are not copied.
                answer["copy"] = any(k.lower() == b"content-type" and b"json" in v for k, v in answer["headers"])
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if answer.get("copy") and not answer.get("overflow"):
                    if len(answer["body"]) + len(chunk) <= _MAX_RESPONSE_COPY:
                        answer["body"].extend(chunk)
                    else:  # too big to keep: keep nothing rather than a corrupt prefix
                        answer["body"] = bytearray()
                        answer["overflow"] = True
                if not message.get("more_body", False):
                    answer["finished"] = True
                    # Journal first, so a client that reads the journal after its answer finds the entry.
                    self._record(scope, at, started, bytes(body), answer)
            await send(message)

        try:
            await self.app(scope, receive_copy, send_copy)
        finally:
            if not answer.get("recorded"):
                self._record(scope, at, started, bytes(body), answer)

    def _record(self, scope: Scope, at: float, started: float, body: bytes, answer: dict[str, Any]) -> None:
        answer["recorded"] = True
        seen = _Seen(
            at=at,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b""),
            headers=scope.get("headers", []),
            body=body,
            route=self.recorder.route_of(scope),
            path_params=scope.get("path_params", {}),
            status=int(answer["status"]),
            response_headers=answer["headers"],
            response_body=b"" if answer.get("overflow") else bytes(answer["body"]),
            finished=bool(answer["finished"]),
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        self.recorder.journal.add_later(lambda seq: self._entry(seq, seen))
        if len(seen.body) + len(seen.response_body) > _KEEP_UNJUDGED_BYTES:
            self.recorder.journal.settle()  # judge big exchanges now rather than hold their bytes

    def _entry(self, seq: int, seen: _Seen) -> Entry | None:
        try:
            return self._judge(seq, seen)
        except Exception:  # the journal must never break an answer, or a read of it
            log.exception("could not journal %s %s", seen.method, seen.path)
            return None

    def _judge(self, seq: int, seen: _Seen) -> Entry:
        rec = self.recorder
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in seen.headers]
        request_headers = {k.lower(): v for k, v in headers}
        response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in seen.response_headers}
        operation, path_params = rec.operation_of(seen)
        response_json = _json_or_none(seen.response_body, response_headers.get("content-type", ""))
        exchange = Exchange(
            at=seen.at,
            test_id=request_headers.get(TEST_ID_HEADER),
            method=seen.method,
            path=seen.path,
            operation=operation,
            path_params=path_params,
            content_type=request_headers.get("content-type", ""),
            body=seen.body,
            status=seen.status,
            response_headers=response_headers,
            response_json=response_json,
            finished=seen.finished,
        )
        violations = rec.rules.check(exchange)
        request_json = _json_or_none(seen.body, "application/json") if seen.body else None
        return Entry(
            seq=seq,
            at=seen.at,
            test_id=exchange.test_id,
            method=exchange.method,
            path=exchange.path,
            query=seen.query.decode("latin-1"),
            operation=operation.operation_id if operation else None,
            headers=redact_headers(headers),
            body=summarize(request_json) if request_json is not None else _raw_summary(seen.body),
            status=exchange.status,
            duration_ms=seen.duration_ms,
            request_id=response_headers.get("x-fal-request-id"),
            violations=violations,
        )


def _json_or_none(data: bytes, content_type: str) -> Any:
    if not data or "json" not in content_type:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _raw_summary(body: bytes) -> str | None:
    return f"({len(body)} bytes, not JSON)" if body else None
