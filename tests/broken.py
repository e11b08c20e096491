"""Deliberately broken servers: the mock behind a wrapper that corrupts its answers.

Each corruption is a function from one whole answer to another, so a test says
exactly what is wrong with the server and asserts that the conformance suite
names that rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Answer:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes
    calls: dict[str, int] = field(default_factory=dict)  # per-wrapper counters, by key

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()
        self.headers["content-type"] = "application/json"


Corruption = Callable[[Answer], None]


def corrupting(corrupt: Corruption) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware factory: buffer each non-streaming answer, let ``corrupt`` edit it."""
    calls: dict[str, int] = {}

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start: dict[str, Any] = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))

            await app(scope, receive, capture)
            headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
            answer = Answer(scope["method"], scope["path"], start.get("status", 500), headers, b"".join(chunks), calls)
            corrupt(answer)
            answer.headers["content-length"] = str(len(answer.body))
            raw = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
            await send({"type": "http.response.start", "status": answer.status, "headers": raw})
            await send({"type": "http.response.body", "body": answer.body})

        return wrapped

    return wrap


STATUS_PATH = re.compile(r"/requests/([^/]+)/status$")
RESULT_PATH = re.compile(r"/requests/([^/]+)$")


def is_status(a: Answer) -> bool:
    return a.method == "GET" and STATUS_PATH.search(a.path) is not None


def is_result(a: Answer) -> bool:
    return a.method == "GET" and RESULT_PATH.search(a.path) is not None and "/files/" not in a.path


def is_submit(a: Answer) -> bool:
    return a.method == "POST"


def nth_status_poll(a: Answer) -> int:
    """1 for the first status poll of a request, 2 for the next, ..."""
    match = STATUS_PATH.search(a.path)
    assert match
    key = match.group(1)
    a.calls[key] = a.calls.get(key, 0) + 1
    return a.calls[key]


def fake_state(a: Answer, state: str, position: int | None = None) -> None:
    body = a.json
    body["status"] = state
    body.pop("queue_position", None)
    if position is not None:
        body["queue_position"] = position
    body["metrics"] = {}
    a.set_json(body)
    a.status = 202
