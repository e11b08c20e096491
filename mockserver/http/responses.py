"""The JSON answer every handler returns.

Starlette's ``JSONResponse`` builds a JSON encoder and a header list through
its general path on every answer; the mock answers JSON on nearly every
request, so this one keeps one encoder and writes the two headers directly.
Bytes on the wire are the same: compact separators, UTF-8, no NaN.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_OWN_HEADERS = ("content-length", "content-type")


class JsonAnswer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _ENCODE(content).encode("utf-8")

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        if headers:
            for name in headers:
                if name.lower() in _OWN_HEADERS:
                    super().init_headers(headers)  # the caller sets its own: Starlette's rules decide
                    return
        raw = [(b"content-length", str(len(self.body)).encode("latin-1")), (b"content-type", b"application/json")]
        if headers:
            raw.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())
        self.raw_headers = raw
