"""A test helper that writes an httpx client's exchanges with an upstream into a cassette.

The way a recording proxy would see them: each answer is written with the
request that got it, and an image an answer linked to is kept as a file of the
cassette (served again at the same path) rather than as an exchange.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from mockserver.cassette.writer import CassetteWriter
from mockserver.kit.traffic_file import OperationMatcher
from mockserver.spec.loader import default_spec


class CassetteHooks:
    """Pass :meth:`hooks` to ``httpx.Client(event_hooks=...)`` for a client that talks to ``upstream``."""

    def __init__(self, writer: CassetteWriter, upstream: str, now: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        self.upstream = upstream.rstrip("/")
        self._operations = OperationMatcher(default_spec())
        self._now = now  # the upstream's clock, when a test moves it by hand
        self._started = now()

    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self._record]}

    def _record(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        request.read()  # a multipart body is a stream, sent already; it reads again
        url = str(request.url)
        assert url.startswith(self.upstream), f"{url} is not a call to the upstream"
        local = url[len(self.upstream):]
        media = response.headers.get("content-type", "")
        if media.startswith("image/"):
            self.writer.add_file(local.split("?", 1)[0], url, response.content, media)
            return
        found = self._operations.find(request.method, local.split("?", 1)[0])
        self.writer.add(
            at=self._now() - self._started,
            operation=found[0].operation_id if found else None,
            method=request.method,
            path=local,
            url=url,
            request_headers=request.headers.multi_items(),
            request_body=request.content,
            status=response.status_code,
            response_headers=response.headers.multi_items(),
            response_body=response.content,
        )
