"""Writing a cassette as the exchanges happen: a crash loses at most the one in flight.

Each exchange is its own document, written whole before the index names it;
the index is then replaced whole (:func:`~.layout.write_atomically`). Every
header and body passes through a :class:`~.redaction.Redactor` first.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mockserver.cassette import layout
from mockserver.cassette.redaction import Redactor
from mockserver.spec import jsontext


@dataclass(frozen=True)
class Upstream:
    """Calls to ``{recorder}{prefix}/x`` went to ``{url}/x``; links to ``url`` lead back to the prefix."""

    prefix: str
    url: str

    def as_json(self) -> dict[str, str]:
        return {"prefix": self.prefix, "url": self.url}


class CassetteWriter:
    def __init__(self, directory: Path, upstreams: Sequence[Upstream], redactor: Redactor | None = None) -> None:
        self.directory = directory
        self.redactor = redactor or Redactor()
        self._upstreams = [u.as_json() for u in upstreams]
        self._lines: list[dict[str, Any]] = []
        self._files: dict[str, dict[str, Any]] = {}
        self._names: set[str] = set()
        self._lock = threading.Lock()
        layout.clear(directory)
        (directory / layout.EXCHANGES).mkdir(parents=True, exist_ok=True)
        (directory / layout.FILES).mkdir(exist_ok=True)
        self._write_index()

    def add(
        self,
        *,
        at: float,
        operation: str | None,
        method: str,
        path: str,
        url: str,
        request_headers: Iterable[tuple[str, str]],
        request_body: bytes,
        status: int,
        response_headers: Iterable[tuple[str, str]],
        response_body: bytes,
    ) -> int:
        """Write one exchange (``path`` as the client asked it, ``url`` as forwarded); its number."""
        request_headers = list(request_headers)
        self.redactor.learn_from(request_headers)
        with self._lock:
            seq = len(self._lines) + 1
            req_headers = self.redactor.headers(request_headers)
            resp_headers = self.redactor.headers(response_headers)
            local = self.redactor.path(path)
            doc: dict[str, Any] = {
                "seq": seq,
                "at": round(at, 3),
                "operation": operation,
                "request": {
                    "method": method.upper(),
                    "path": local,
                    "url": self.redactor.path(url),
                    "headers": req_headers,
                    "body": self._body(request_body, req_headers.get("content-type", ""), f"{seq:04d}-request"),
                },
                "response": {
                    "status": status,
                    "headers": resp_headers,
                    "body": self._body(
                        response_body, resp_headers.get("content-type", ""), f"{seq:04d}-response", operation
                    ),
                },
            }
            name = layout.exchange_name(seq, method, path)
            layout.write_atomically(self.directory / name, layout.dumps(doc))
            self._lines.append(
                {"seq": seq, "file": name, "operation": operation, "method": method.upper(),
                 "path": local, "status": status}
            )
            self._write_index()
            return seq

    def add_file(self, local_path: str, source: str, data: bytes, content_type: str) -> None:
        """Keep a file an answer linked to, served again at ``local_path``; the first copy stays."""
        with self._lock:
            if local_path in self._files:
                return
            name = self._blob(PurePosixPath(local_path).name or "file", data)
            self._files[local_path] = {
                "file": name,
                "source": self.redactor.text(source),
                "content_type": content_type,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            self._write_index()

    def _body(self, data: bytes, media: str, stem: str, answer_of: str | None = None) -> dict[str, Any]:
        """A body as the cassette holds it; ``answer_of`` names the operation an answer is of."""
        if not data:
            return {}
        if "json" in media.lower():
            try:
                doc = jsontext.loads(data)
                return {"json": self.redactor.answer(answer_of, doc) if answer_of else self.redactor.value(doc)}
            except (ValueError, RecursionError):
                pass  # stored as it came: a wrong body is part of the record
        lower = media.lower()
        if not lower.startswith(("image/", "multipart/", "application/octet-stream")):
            try:
                return {"text": self.redactor.text(data.decode("utf-8"))}
            except UnicodeDecodeError:
                pass
        return {"file": self._blob(stem + layout.extension_for(media), self.redactor.data(data))}

    def _blob(self, name: str, data: bytes) -> str:
        unique, n = name, 1
        while unique in self._names:
            n += 1
            unique = f"{n}-{name}"
        self._names.add(unique)
        relative = f"{layout.FILES}/{unique}"
        (self.directory / relative).write_bytes(data)
        return relative

    def _write_index(self) -> None:
        index = {"format": layout.FORMAT, "upstreams": self._upstreams, "exchanges": self._lines, "files": self._files}
        layout.write_atomically(self.directory / layout.INDEX, layout.dumps(index))
