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

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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

    def judging(self, seen: _Seen) -> Callable[[int], Entry | None]:
        return functools.partial(self._entry, seen=seen)

    def operation_of(self, seen: _Seen) -> tuple[Operation | None, Mapping[str, str]]:
        """The operation a request was routed to, with its path parameters (None: no route took it)."""
        route = seen.route
        if route is None or not isinstance(route, Route) or (route.methods and seen.method not in route.methods):
            return None, {}  # not routed, or routed only to answer 405
        return self._operations.get(route.name), seen.path_params

    def begin(self, scope: Scope) -> Recording:
        """Start copying one exchange (see :class:`~mockserver.http.front.Front`)."""
        return Recording(self, scope)

    def _entry(self, seq: int, seen: _Seen) -> Entry | None:
        try:
            return self._judge(seq, seen)
        except Exception:  # the journal must never break an answer, or a read of it
            log.exception("could not journal %s %s", seen.method, seen.path)
            return None

    def _judge(self, seq: int, seen: _Seen) -> Entry:
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


@dataclass(slots=True)
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


class Recording:
    """One exchange being copied: the request body as the app reads it, the answer as it is sent."""

    __slots__ = (
        "answer",
        "answer_size",
        "at",
        "body",
        "copy",
        "finished",
        "headers",
        "recorded",
        "recorder",
        "scope",
        "size",
        "started",
        "status",
    )

    def __init__(self, recorder: Recorder, scope: Scope) -> None:
        self.recorder = recorder
        self.scope = scope
        self.started = time.perf_counter()
        self.at = recorder.clock.now()
        self.body: list[bytes] = []
        self.size = 0
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.answer: list[bytes] | None = []  # None once too big to keep
        self.answer_size = 0
        self.copy = False
        self.finished = False
        self.recorded = False

    def received(self, message: Message) -> None:
        if message["type"] == "http.request" and self.size <= self.recorder.max_body:
            chunk = message.get("body", b"")
            self.body.append(chunk)
            self.size += len(chunk)

    def sent(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = message.get("headers", [])
            # Only JSON answers are read by the rules: images and streams are not copied.
            for name, value in self.headers:
                if name.lower() == b"content-type":
                    self.copy = b"json" in value
                    break
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if self.copy and self.answer is not None:
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
        if self.recorded:
            return
        self.recorded = True
        scope = self.scope
        rec = self.recorder
        seen = _Seen(
            self.at,
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            scope.get("headers", []),
            b"".join(self.body),
            rec.route_of(scope),
            scope.get("path_params", {}),
            int(self.status),
            self.headers,
            b"".join(self.answer) if self.answer else b"",
            self.finished,
            (time.perf_counter() - self.started) * 1000,
        )
        rec.journal.add_later(rec.judging(seen))
        if len(seen.body) + len(seen.response_body) > _KEEP_UNJUDGED_BYTES:
            rec.journal.settle()  # judge big exchanges now rather than hold their bytes


def _json_or_none(data: bytes, content_type: str) -> Any:
    if not data or "json" not in content_type:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _raw_summary(body: bytes) -> str | None:
    return f"({len(body)} bytes, not JSON)" if body else None
