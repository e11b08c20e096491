"""A loopback HTTP server that keeps the webhooks a target delivers, for ``--webhooks``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The most a delivery may hold: a few images as data URIs.
_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON, or the text when it is not JSON
    raw: bytes  # the body as sent, which the signature covers
    received_at: float  # Unix seconds, to judge the signed timestamp by

    def get(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None


class WebhookReceiver:
    """Every POST it receives, answered 200 and kept; :meth:`wait` finds one by request id."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._deliveries: list[Delivery] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._keep(Delivery(headers, body, raw, time.time()))

            def log_message(self, format: str, *args: Any) -> None:
                pass  # deliveries are reported by the suite, not logged

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def _keep(self, delivery: Delivery) -> None:
        with self._arrived:
            self._deliveries.append(delivery)
            self._arrived.notify_all()

    def wait(self, request_id: str, timeout: float) -> Delivery | None:
        """The delivery about ``request_id`` (by body or header), waiting up to ``timeout`` seconds."""

        def find() -> Delivery | None:
            for delivery in self._deliveries:
                if request_id in (delivery.get("request_id"), delivery.headers.get("x-fal-webhook-request-id")):
                    return delivery
            return None

        with self._arrived:
            self._arrived.wait_for(lambda: find() is not None, timeout)
            return find()

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.close()
