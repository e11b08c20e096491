"""Recording every exchange in the journal, as plain ASGI middleware.

Plain ASGI (not Starlette's BaseHTTPMiddleware) so streams pass through
untouched and the cost per request stays a few dictionary operations: the
request body is copied as the app reads it, the response's status, headers
and (small, JSON) body are copied as they are sent, and the rules run once
the answer is complete.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.client_rules import ClientRules, Exchange
from mockserver.clock import Clock
from mockserver.journal import Entry, Journal, redact_headers, summarize
from mockserver.spec import Operation, Spec

log = logging.getLogger("mockserver")

TEST_ID_HEADER = "x-mock-test-id"
ADMIN_PREFIX = "/_mock"
_MAX_RESPONSE_COPY = 256 * 1024


class Recorder:
    """What the middleware needs: where to write, which rules, how to name routes."""

    def __init__(self, journal: Journal, rules: ClientRules, spec: Spec, clock: Clock, max_body: int) -> None:
        self.journal = journal
        self.rules = rules
        self.clock = clock
        self.max_body = max_body
        self.routes: Sequence[BaseRoute] = ()
        self._operations = {op.operation_id: op for op in spec.operations}

    def match(self, scope: Scope) -> tuple[Operation | None, Mapping[str, str]]:
        for route in self.routes:
            kind, child = route.matches(scope)
            if kind is Match.FULL:
                name = getattr(route, "name", None)
                return self._operations.get(str(name)), child.get("path_params", {})
        return None, {}


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
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
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
        try:
            self._write(scope, at, started, body, answer)
        except Exception:  # the journal must never break an answer
            log.exception("could not journal %s %s", scope.get("method"), scope.get("path"))

    def _write(self, scope: Scope, at: float, started: float, body: bytes, answer: dict[str, Any]) -> None:
        rec = self.recorder
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        request_headers = {k.lower(): v for k, v in headers}
        response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in answer["headers"]}
        operation, path_params = rec.match(scope)
        kept = b"" if answer.get("overflow") else bytes(answer["body"])
        response_json = _json_or_none(kept, response_headers.get("content-type", ""))
        exchange = Exchange(
            at=at,
            test_id=request_headers.get(TEST_ID_HEADER),
            method=scope["method"],
            path=scope["path"],
            operation=operation,
            path_params=path_params,
            content_type=request_headers.get("content-type", ""),
            body=body,
            status=int(answer["status"]),
            response_headers=response_headers,
            response_json=response_json,
            finished=bool(answer["finished"]),
        )
        violations = rec.rules.check(exchange)
        request_json = _json_or_none(body, "application/json") if body else None
        rec.journal.add(
            Entry(
                seq=rec.journal.next_seq(),
                at=at,
                test_id=exchange.test_id,
                method=exchange.method,
                path=exchange.path,
                query=scope.get("query_string", b"").decode("latin-1"),
                operation=operation.operation_id if operation else None,
                headers=redact_headers(headers),
                body=summarize(request_json) if request_json is not None else _raw_summary(body),
                status=exchange.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                request_id=response_headers.get("x-fal-request-id"),
                violations=violations,
            )
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
