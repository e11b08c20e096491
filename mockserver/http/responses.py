"""The JSON response every handler returns.

A Starlette ``JSONResponse`` that encodes with orjson where it is installed
(the standard encoder was a twentieth of a submit's time), writes its two
headers itself and hands the whole response to the exchange's passage in
one call (:func:`~mockserver.http.passage.send_json`), so the journal need
not reassemble it from two messages.

Bytes on the wire are Starlette's: compact separators, UTF-8, the same string
escapes, except that a float may be written in another form of the same
number (``1e-05`` as ``0.00001``). What orjson does not take (integers past 64
bits, keys that are not strings) or is told to leave alone (dataclasses,
datetimes) goes through the standard encoder, with its rules. Left apart: a
non-finite float (never in an answer: clients' JSON cannot bring one in, see
:mod:`mockserver.spec.jsontext`) would be ``null`` from orjson and refused by the
standard encoder, and a plain (not ``str``) Enum, which the mock never sends,
its value from orjson and refused by the standard encoder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

try:
    import orjson
except ImportError:  # an interpreter it has no build for: the standard encoder alone
    orjson = None  # type: ignore[assignment]

from starlette.background import BackgroundTask
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from mockserver.http.passage import send_json

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _standard() -> Callable[[Any], bytes]:
    # JSONEncoder.encode builds its C encoder anew on every call, a third of the
    # cost of a small answer; this one is built once, the same settings (NaN refused).
    # Nothing the mock answers refers to itself, so the circular-reference check is left out.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return lambda value: _ENCODER.encode(value).encode("utf-8")
    encode = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0)).encode("utf-8")


def _encoder(standard: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    if orjson is None:
        return standard
    dumps = orjson.dumps
    # Types the standard encoder refuses are refused the same way, whichever encoder is in use.
    leave = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME

    def encode(value: Any) -> bytes:
        try:
            return dumps(value, option=leave)
        except TypeError:  # what orjson does not take, said (or refused) by the standard rules
            return standard(value)

    return encode


USES_ORJSON = orjson is not None
STANDARD_ENCODE = _standard()
ENCODE = _encoder(STANDARD_ENCODE)
_OWN_HEADERS = ("content-length", "content-type")


class JsonResponse(JSONResponse):
    """A JSON response built and sent in two steps rather than through Starlette's general ones.

    The usual response (no background task, no media type or length of the caller's)
    is encoded and given its headers in ``__init__`` and sent whole by ``__call__``
    (as its two messages); anything else takes Starlette's own path, with the same encoder.
    """

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        usual = media_type is None and background is None and status_code >= 200 and status_code not in (204, 304)
        extra: list[tuple[bytes, bytes]] = []
        if usual and headers:
            for name, value in headers.items():
                key = name.lower()
                if key in _OWN_HEADERS:  # the caller sets its own length or type
                    usual = False
                    break
                extra.append((key.encode("latin-1"), value.encode("latin-1")))
        if not usual:  # Starlette's rules (no length for 1xx, 204 and 304, say)
            super().__init__(content, status_code, headers, media_type, background)
            return
        self.status_code = status_code
        self.background = None
        self.plain = True  # its two messages are all there is to send
        body = self.body = ENCODE(content)
        self.raw_headers = [
            (b"content-length", str(len(body)).encode("latin-1")), (b"content-type", b"application/json"), *extra
        ]

    def render(self, content: Any) -> bytes:
        return ENCODE(content)

    plain = False  # Starlette's path: see __init__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.plain or self.background is not None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # (http/app.py's routes send a plain answer themselves, as here.)
        await send_json(send, self.status_code, self.raw_headers, self.body)
