"""Reading a cassette back: its exchanges, its upstreams and its files, checked as they are read."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockserver.cassette import layout
from mockserver.cassette.layout import CassetteError
from mockserver.cassette.writer import Upstream

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token: methods and header names
_BREAKS = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class Message:
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    json: Any  # the body's JSON when it was stored as JSON, else None


@dataclass(frozen=True)
class Exchange:
    seq: int
    at: float
    operation: str | None
    method: str
    path: str  # as the client asked it, with its query
    url: str  # as forwarded upstream
    request: Message
    status: int
    response: Message


@dataclass(frozen=True)
class StoredFile:
    local_path: str
    source: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Cassette:
    directory: Path
    upstreams: tuple[Upstream, ...]
    exchanges: tuple[Exchange, ...]
    files: Mapping[str, StoredFile]  # by the path it is served at


def read_cassette(directory: Path | str) -> Cassette:
    root = Path(directory)
    index = _document(root, layout.INDEX)
    if index.get("format") != layout.FORMAT:
        found = index.get("format")
        raise CassetteError(f"{root / layout.INDEX}: format {found!r}; this version reads {layout.FORMAT}")
    upstreams = tuple(
        Upstream(str(_field(u, "prefix", str, "upstream")), str(_field(u, "url", str, "upstream")))
        for u in _list(index, "upstreams")
    )
    exchanges = tuple(_exchange(root, _field(line, "file", str, "exchanges[]")) for line in _list(index, "exchanges"))
    files_index = index.get("files", {})
    if not isinstance(files_index, Mapping):
        raise CassetteError(f"{root / layout.INDEX}: files is not an object")
    files = {
        path: StoredFile(
            path,
            str(_field(entry, "source", str, path)),
            _headers({"content-type": _field(entry, "content_type", str, path)}, path)["content-type"],
            _blob(root, _field(entry, "file", str, path)),
        )
        for path, entry in files_index.items()
    }
    return Cassette(root, upstreams, exchanges, files)


def _exchange(root: Path, name: str) -> Exchange:
    doc = _document(root, name)
    where = str(root / name)
    request = _field(doc, "request", Mapping, where)
    response = _field(doc, "response", Mapping, where)
    operation = doc.get("operation")
    method = str(_field(request, "method", str, where + " request"))
    path = str(_field(request, "path", str, where + " request"))
    url = str(_field(request, "url", str, where + " request"))
    status = int(_field(response, "status", int, where + " response"))
    # A hand-edited cassette is read as carefully as a request: what replays must be sendable.
    if not _TOKEN.fullmatch(method):
        raise CassetteError(f"{where}: request method {method!r} is not an HTTP method")
    if not path.startswith("/") or _BREAKS.search(path):
        raise CassetteError(f"{where}: request path {path!r} is not an absolute path")
    try:
        urlsplit(url)
    except ValueError as exc:
        raise CassetteError(f"{where}: request url {url!r} is not a URL ({exc})") from None
    if not 100 <= status <= 999:
        raise CassetteError(f"{where}: response status {status} is not an HTTP status")
    return Exchange(
        seq=int(_field(doc, "seq", int, where)),
        at=float(_field(doc, "at", (int, float), where)),
        operation=operation if isinstance(operation, str) else None,
        method=method,
        path=path,
        url=url,
        request=_message(root, request, where + " request"),
        status=status,
        response=_message(root, response, where + " response"),
    )


def _message(root: Path, part: Mapping[str, Any], where: str) -> Message:
    headers = _headers(_field(part, "headers", Mapping, where), where)
    body = _field(part, "body", Mapping, where)
    if "json" in body:
        data = json.dumps(body["json"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Message(headers, data, body["json"])
    if "text" in body:
        data = str(body["text"]).encode("utf-8")
    elif "file" in body:
        data = _blob(root, str(body["file"]))
    else:
        data = b""
    return Message(headers, data, None)


def _headers(raw: Mapping[Any, Any], where: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not _TOKEN.fullmatch(str(name)) or not isinstance(value, (str, int, float)) or _BREAKS.search(str(value)):
            raise CassetteError(f"{where}: header {str(name)!r}: {str(value)!r} cannot be sent as a header")
        headers[str(name).lower()] = str(value)
    return headers


def _document(root: Path, name: str) -> Mapping[str, Any]:
    path = root / name
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CassetteError(f"{path} is missing: not a cassette (`flux-mock record` makes one)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CassetteError(f"cannot read {path}: {exc}") from None
    except RecursionError:
        raise CassetteError(f"cannot read {path}: its JSON is nested too deeply") from None
    if not isinstance(doc, Mapping):
        raise CassetteError(f"{path} is not a JSON object")
    return doc


def _blob(root: Path, name: str) -> bytes:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise CassetteError(f"{root}: {name!r} points outside the cassette")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CassetteError(f"cannot read {path}: {exc}") from None


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise CassetteError(f"index.json: {key} is not a list")
    return value


def _field(doc: Any, key: str, kind: Any, where: str) -> Any:
    value = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CassetteError(f"{where}: {key} is missing or not the right type")
    return value
