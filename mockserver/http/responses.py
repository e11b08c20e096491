"""The JSON answer every handler returns.

Starlette's ``JSONResponse`` builds a JSON encoder and a header list through
its general path on every answer; the mock answers JSON on nearly every
request, so this one keeps one (C) encoder and writes the two headers directly.
Bytes on the wire are the same: compact separators, UTF-8, no NaN.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import JSONResponse

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder() -> Callable[[Any], str]:
    # JSONEncoder.encode builds its C encoder anew on every call, a third of the
    # cost of a small answer; this one is built once, the same settings (NaN refused).
    # Nothing the mock answers refers to itself, so the circular-reference check is left out.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return _ENCODER.encode
    encode = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


_ENCODE = _encoder()
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
