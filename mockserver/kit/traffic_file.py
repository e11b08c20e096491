"""Recorded traffic from a HAR 1.2 file, as plain exchange records.

Browser devtools and mitmproxy export what a client sent and what it was
answered as HAR: ``log.entries[]`` with a ``request`` (method, URL, headers,
``postData``) and a ``response`` (status, headers, ``content``, whose text
may be base64). :func:`read_har` turns each entry into a :class:`Recorded`,
its body bytes decoded and its time ``at`` in seconds since the first
entry started, so the kit can judge the traffic after the fact. Anything
the file lacks that a judgment needs stops the read with a
:class:`TrafficFileError` saying what and where.

:class:`OperationMatcher` says which spec operation a recorded path belongs
to (by path alone: a recording carries real hosts) and its path parameters.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockserver.spec import jsontext
from mockserver.spec.documents import Operation
from mockserver.spec.hosts import HostMap
from mockserver.spec.loader import Spec

_PARAM = re.compile(r"\{([^}]+)\}")


class TrafficFileError(ValueError):
    """The file is not HAR the kit can read; the message says why, in one line."""


@dataclass(frozen=True)
class Recorded:
    """One recorded request and its answer."""

    at: float  # seconds since the first entry started
    method: str
    url: str
    request_headers: Mapping[str, str]  # lower-case names
    body: bytes
    status: int
    response_headers: Mapping[str, str]  # lower-case names
    response_body: bytes
    # The path the client asked the recorder for, when it differs from the forwarded URL's
    # (a cassette's run-host calls went to fal.run/X from /run/X).
    local_path: str | None = None

    @property
    def path(self) -> str:
        if self.local_path is not None:
            return self.local_path
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.url).query

    @property
    def answered(self) -> bool:
        """Whether the server answered: devtools write status 0 for a request that was aborted,
        blocked or failed before any answer came."""
        return self.status != 0


def read_har(path: Path | str, hosts: HostMap | None = None) -> list[Recorded]:
    """Every entry of the HAR file at ``path``, in the order it lists them.

    With ``hosts`` (the spec's map of the real service's hosts), an entry's
    URL is read back to the mock's path it stands for: ``https://fal.run/X``
    is the run host's ``/run/X``, not the queue's ``/X``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrafficFileError(f"cannot read {path}: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise TrafficFileError(f"{path} is not JSON: {exc}") from None
    except RecursionError:
        raise TrafficFileError(f"{path}: its JSON is nested too deeply") from None
    log = doc.get("log") if isinstance(doc, Mapping) else None
    entries = log.get("entries") if isinstance(log, Mapping) else None
    if not isinstance(entries, list):
        raise TrafficFileError(f"{path} is not HAR: no log.entries list")
    parsed = [_entry(raw, n) for n, raw in enumerate(entries)]
    if not parsed:
        return []
    first = min(started for started, _ in parsed)
    return [
        dataclasses.replace(
            rec, at=(started - first).total_seconds(), local_path=hosts.local_path(rec.url) if hosts else None
        )
        for started, rec in parsed
    ]


def _entry(raw: Any, n: int) -> tuple[datetime, Recorded]:
    where = f"log.entries[{n}]"
    if not isinstance(raw, Mapping):
        raise TrafficFileError(f"{where} is not an object")
    request, response = raw.get("request"), raw.get("response")
    if not isinstance(request, Mapping):
        raise TrafficFileError(f"{where} has no request object")
    if not isinstance(response, Mapping):
        raise TrafficFileError(f"{where} has no response object")
    started = raw.get("startedDateTime")
    try:
        when = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    except ValueError:
        raise TrafficFileError(f"{where}.startedDateTime is not an ISO 8601 time: {started!r}") from None
    if when.tzinfo is None:
        raise TrafficFileError(f"{where}.startedDateTime has no time zone: {started!r}")
    method, url, status = request.get("method"), request.get("url"), response.get("status")
    if not isinstance(method, str) or not method or not isinstance(url, str) or not url:
        raise TrafficFileError(f"{where}.request needs a method and a url")
    try:
        urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise TrafficFileError(f"{where}.request.url is not a URL ({exc}): {url!r}") from None
    if not isinstance(status, int) or isinstance(status, bool):
        raise TrafficFileError(f"{where}.response.status is not a number: {status!r}")
    if status != 0 and not 100 <= status <= 999:  # 0: no answer came
        raise TrafficFileError(f"{where}.response.status is not an HTTP status: {status}")
    post = request.get("postData")
    body = _text(post, f"{where}.request.postData") if isinstance(post, Mapping) else b""
    content = response.get("content")
    answer = _text(content, f"{where}.response.content") if isinstance(content, Mapping) else b""
    rec = Recorded(
        at=0.0,
        method=method.upper(),
        url=url,
        request_headers=_headers(request.get("headers"), f"{where}.request.headers"),
        body=body,
        status=status,
        response_headers=_decoded(_headers(response.get("headers"), f"{where}.response.headers")),
        response_body=answer,
    )
    return when, rec


def _headers(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise TrafficFileError(f"{where} is not a list")
    headers: dict[str, str] = {}
    for header in raw:
        if not isinstance(header, Mapping) or not isinstance(header.get("name"), str):
            raise TrafficFileError(f"{where} holds a header without a name")
        name = header["name"].lower()
        value = str(header.get("value", ""))
        # Repeated headers are joined as HTTP joins them (set-cookie aside, which no rule reads).
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


# HAR keeps a body as it was decoded (HAR 1.2, content.text), so the headers that described it on
# the wire (gzip, its compressed length) no longer do: kept, they would have it decoded twice.
_WIRE_ONLY = ("content-encoding", "content-length")


def _decoded(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name not in _WIRE_ONLY}


def _text(holder: Mapping[str, Any], where: str) -> bytes:
    text = holder.get("text")
    if text is None:
        return b""  # recorded without its body (devtools does so for large or binary ones)
    if not isinstance(text, str):
        raise TrafficFileError(f"{where}.text is not a string")
    if holder.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise TrafficFileError(f"{where}.text is not valid base64") from None
    return text.encode("utf-8")


def json_or_none(body: bytes, media: str) -> Any:
    """The JSON a body holds, if its media type says JSON; None when not, or when it is not JSON."""
    if "json" not in media.lower() or not body:
        return None
    try:
        return jsontext.loads(body)
    except (ValueError, RecursionError):
        return None


class OperationMatcher:
    """The spec operation a path belongs to, and its path parameters (literal paths first)."""

    def __init__(self, spec: Spec) -> None:
        entries: list[tuple[int, str, re.Pattern[str], Operation]] = []
        for op in spec.operations:
            spans = op.path_converters()
            pattern, last = "", 0
            for match in _PARAM.finditer(op.path):
                pattern += re.escape(op.path[last : match.start()])
                name = match.group(1)
                piece = ".+" if spans.get(name) == "path" else "[^/]+"
                pattern += f"(?P<{_group(name)}>{piece})"
                last = match.end()
            pattern += re.escape(op.path[last:])
            entries.append((op.path.count("{"), op.method, re.compile(f"^{pattern}$"), op))
        entries.sort(key=lambda e: e[0])
        self._entries = entries

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for _, op_method, pattern, op in self._entries:
            if op_method != method.upper():
                continue
            match = pattern.match(path)
            if match:
                params = {name: match.group(_group(name)) for name in _PARAM.findall(op.path)}
                return op, params
        return None


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)
