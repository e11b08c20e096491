"""Recording every exchange in the journal.

:class:`~mockserver.http.front.Front` hands each message of an exchange to a
:class:`Recording`, so streams pass through untouched and the cost per
request stays a few copies: the request body is copied as the app reads it,
the response's status, headers and (small, JSON) body as they are sent. The
rules and the summaries run when the journal is read (see
:class:`~mockserver.journal.Journal`), in the order the exchanges happened,
so a mock nobody asks about spends nothing on judging.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import Message, Scope

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
    """Where exchanges are written, which rules judge them, how routes are named."""

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

    def operation_of(self, seen: Recording) -> tuple[Operation | None, Mapping[str, str]]:
        """The operation a request was routed to, with its path parameters (None: no route took it)."""
        route = seen.route
        if route is None or not isinstance(route, Route) or (route.methods and seen.method not in route.methods):
            return None, {}  # not routed, or routed only to answer 405
        return self._operations.get(route.name), seen.path_params

    def begin(self, scope: Scope) -> Recording:
        """Start copying one exchange (see :class:`~mockserver.http.front.Front`)."""
        return Recording(self, scope)

    def entry(self, seq: int, seen: Recording) -> Entry | None:
        try:
            return self._judge(seq, seen)
        except Exception:  # the journal must never break an answer, or a read of it
            log.exception("could not journal %s %s", seen.method, seen.path)
            return None

    def _judge(self, seq: int, seen: Recording) -> Entry:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in seen.headers]
        request_headers = {k.lower(): v for k, v in headers}
        response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in seen.response_headers}
        operation, path_params = self.operation_of(seen)
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
        violations = self.rules.check(exchange)
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


class Recording:
    """One exchange being copied: the request body as the app reads it, the answer as it is sent.

    Once the answer is out it is its own journal record: a callable the journal
    turns into an entry when it is next read. It keeps what the rules read from
    the scope, not the scope (which holds the connection).
    """

    __slots__ = (
        "answer",
        "answer_size",
        "at",
        "body",
        "chunks",
        "duration_ms",
        "finished",
        "headers",
        "method",
        "path",
        "path_params",
        "query",
        "recorder",
        "response_body",
        "response_headers",
        "route",
        "scope",
        "size",
        "started",
        "status",
    )

    def __init__(self, recorder: Recorder, scope: Scope) -> None:
        self.recorder = recorder
        self.scope: Scope | None = scope  # None once recorded
        self.at = recorder.clock.now()
        self.started = time.perf_counter()
        self.chunks: list[bytes] = []
        self.body = b""
        self.size = 0
        self.status = 500
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.answer: list[bytes] | None = None  # JSON answers only, and None once too big to keep
        self.answer_size = 0
        self.finished = False

    def received(self, message: Message) -> None:
        if message["type"] == "http.request" and self.size <= self.recorder.max_body:
            chunk = message.get("body", b"")
            self.chunks.append(chunk)
            self.size += len(chunk)

    def sent(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.response_headers = message.get("headers", [])
            # Only JSON answers are read by the rules: images and streams are not copied.
            for name, value in self.response_headers:
                if name.lower() == b"content-type":
                    if b"json" in value:
                        self.answer = []
                    break
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if self.answer is not None:
                self.answer_size += len(chunk)
                if self.answer_size <= _MAX_RESPONSE_COPY:
                    self.answer.append(chunk)
                else:  # too big to keep: keep nothing rather than a corrupt prefix
                    self.answer = None
            if not message.get("more_body", False):
                self.finished = True
                # Journal first, so a client that reads the journal after its answer finds the entry.
                self.done()

    def done(self) -> None:
        scope = self.scope
        if scope is None:
            return
        self.scope = None
        self.duration_ms = (time.perf_counter() - self.started) * 1000
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        self.route = self.recorder.route_of(scope)
        self.path_params: Mapping[str, str] = scope.get("path_params", {})
        self.body = b"".join(self.chunks)
        self.response_body = b"".join(self.answer) if self.answer else b""
        self.answer = None
        journal = self.recorder.journal
        journal.add_later(self)
        if len(self.body) + len(self.response_body) > _KEEP_UNJUDGED_BYTES:
            journal.settle()  # judge big exchanges now rather than hold their bytes

    def __call__(self, seq: int) -> Entry | None:
        """The journal entry for this exchange (called by the journal, once)."""
        return self.recorder.entry(seq, self)


def _json_or_none(data: bytes, content_type: str) -> Any:
    if not data or "json" not in content_type:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _raw_summary(body: bytes) -> str | None:
    return f"({len(body)} bytes, not JSON)" if body else None
