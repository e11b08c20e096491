"""A test helper that records an httpx client's exchanges as a HAR 1.2 document."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx


class HarWriter:
    """Pass :meth:`hooks` to ``httpx.Client(event_hooks=...)``; :meth:`save` writes what it saw."""

    def __init__(self, *, base64_answers: bool = False) -> None:
        self.entries: list[dict[str, Any]] = []
        self._base64 = base64_answers

    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self._record]}

    def _record(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        content: dict[str, Any] = {"mimeType": response.headers.get("content-type", ""), "size": len(response.content)}
        if self._base64:
            content |= {"text": base64.b64encode(response.content).decode(), "encoding": "base64"}
        else:
            content["text"] = response.text
        entry: dict[str, Any] = {
            "startedDateTime": datetime.now(UTC).isoformat(),
            "time": response.elapsed.total_seconds() * 1000,
            "request": {
                "method": request.method,
                "url": str(request.url),
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": k, "value": v} for k, v in request.headers.multi_items()],
            },
            "response": {
                "status": response.status_code,
                "statusText": response.reason_phrase,
                "headers": [{"name": k, "value": v} for k, v in response.headers.multi_items()],
                "content": content,
            },
        }
        sent = request.read()
        if sent:
            post: dict[str, Any] = {"mimeType": request.headers.get("content-type", "")}
            try:
                post["text"] = sent.decode("utf-8")
            except UnicodeDecodeError:  # a multipart body with an image in it
                post |= {"text": base64.b64encode(sent).decode(), "encoding": "base64"}
            entry["request"]["postData"] = post
        self.entries.append(entry)

    def document(self) -> dict[str, Any]:
        return {"log": {"version": "1.2", "creator": {"name": "tests", "version": "1"}, "entries": self.entries}}

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.document()), encoding="utf-8")
        return path
