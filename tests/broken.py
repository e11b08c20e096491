"""Deliberately broken servers: the mock behind a wrapper that corrupts its answers.

Each corruption is a function from one whole answer to another, so a test says
exactly what is wrong with the server and asserts that the conformance suite
names that rule.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PIL import Image
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


# ---- the OpenAI-compatible API -------------------------------------------------


def is_generation(a: Answer) -> bool:
    return a.method == "POST" and a.path.endswith("/images/generations")


def no_created(a: Answer) -> None:
    if is_generation(a) and a.status == 200:
        body = a.json
        del body["created"]
        a.set_json(body)


def tiny_b64_image(a: Answer) -> None:
    """Every inline image replaced by a valid 8x8 PNG: the size no aspect ratio has."""
    if is_generation(a) and a.status == 200:
        picture = io.BytesIO()
        Image.new("RGB", (8, 8)).save(picture, format="PNG")
        encoded = "data:image/png;base64," + base64.b64encode(picture.getvalue()).decode()
        body = a.json
        for item in body["data"]:
            if "b64_json" in item:
                item["b64_json"] = encoded
        a.set_json(body)


def undecodable_b64(a: Answer) -> None:
    if is_generation(a) and a.status == 200:
        body = a.json
        for item in body["data"]:
            if "b64_json" in item:
                item["b64_json"] = "data:image/png;base64,not*base64"
        a.set_json(body)


def no_openai_request_id(a: Answer) -> None:
    if a.path.startswith("/v1/"):
        a.headers.pop("x-request-id", None)


def fal_error_on_openai(a: Answer) -> None:
    if is_generation(a) and a.status == 400:
        a.set_json({"detail": "invalid body"})


def wrong_error_code(a: Answer) -> None:
    if is_generation(a) and a.status == 400:
        body = a.json
        body["error"]["code"] = "bad_request"
        a.set_json(body)


# ---- what the real fal service may answer: legal, so the suite must pass it ----


def submit_skips_queue(a: Answer) -> None:
    """A fast model's submit: IN_PROGRESS at once, no queue_position."""
    if is_submit(a) and a.status == 200 and "status_url" in a.json:  # a queue ticket, not a run result
        body = a.json
        body["status"] = "IN_PROGRESS"
        body.pop("queue_position", None)
        a.set_json(body)


def images_without_content_type(a: Answer) -> None:
    if is_result(a) and a.status == 200:
        body = a.json
        for image in body["images"]:
            image.pop("content_type", None)
        a.set_json(body)


def logs_without_labels(a: Answer) -> None:
    if is_status(a) and isinstance(a.json.get("logs"), list):
        body = a.json
        for entry in body["logs"]:
            entry.pop("labels", None)
        a.set_json(body)


def cancel_as_fal_may(a: Answer) -> None:
    """200 OK for a request still pending; a bare ``detail`` for one already finished."""
    if a.method == "PUT" and a.status == 202:
        a.status = 200
        a.set_json({"status": "OK"})
    elif a.method == "PUT" and a.status == 400:
        a.set_json({"detail": "Request is already completed"})


def provider_true(a: Answer) -> None:
    for corrupt in (submit_skips_queue, images_without_content_type, logs_without_labels, cancel_as_fal_may):
        corrupt(a)


def requeued_once(a: Answer) -> None:
    """The first poll finds the request running, the second back in the queue (a runner failed).

    Until the third poll the result, too, answers as for a pending request.
    """
    if is_result(a) and a.status == 200:
        match = RESULT_PATH.search(a.path)
        if match and a.calls.get(match.group(1), 0) < 3:
            a.status = 400
            a.set_json({"detail": "Request is still in progress"})
    if is_status(a) and a.status == 200:
        n = nth_status_poll(a)
        if n == 1:
            fake_state(a, "IN_PROGRESS")
        elif n == 2:
            fake_state(a, "IN_QUEUE", position=1)


def is_key_set(a: Answer) -> bool:
    return a.path == "/.well-known/jwks.json" and a.status == 200


def other_webhook_key(a: Answer) -> None:
    """The key set publishes a key that did not sign the webhooks."""
    if is_key_set(a):
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        body = a.json
        body["keys"][0]["x"] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        a.set_json(body)


def no_webhook_keys(a: Answer) -> None:
    if is_key_set(a):
        a.set_json({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"}]})
