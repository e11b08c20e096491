"""Answers from a cassette: which recorded exchange answers a request, its links made local.

A request matches a recorded one by its method, the spec operation it reaches,
its path (the query left out, percent-escapes decoded: see :func:`place_path`)
and its body. In bodies every string that is a link
(``http://``, ``https://`` or a ``data:`` URI) counts as equal to every other:
inputs uploaded in a new run have new URLs. A multipart form is compared by
its fields, each file in it counting as such a link. A seed (the body field with role
``seed``) is left out when the request has none. Recordings that match are
served in the order they were recorded, one per request, the last again once
all have been served: a status URL polled gets the recorded answers in turn,
the final one repeating.

With a time scale (a clock and ``time_scale`` > 0) a recording also waits for
its time: exchanges that share a request id (the answer header with role
``request_id``) keep the spacing they were recorded with, times the scale,
counted from when the first of them was replayed. A poll that comes sooner
gets the answer before it again, so a status goes on saying IN_PROGRESS for
as long as it did upstream.

An answer keeps its recorded status, headers and body, with every link to an
upstream of the cassette pointing at the replaying server (at the upstream's
prefix) and every file the cassette holds pointing at its local path there.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote

from mockserver.cassette.reader import Cassette, Exchange, StoredFile
from mockserver.sim.clock import Clock
from mockserver.spec import jsontext
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role

_LINK_SCHEMES = ("http://", "https://", "data:")
_LINK: Hashable = ("link",)
# A file in a form stands for an input as a link does (see canonical).
_FORM_FILE = "data:"
_FORM = "multipart/form-data"
# A link to replace ends where a host, port or file name could not go on.
_LINK_END = r"(?![\w.:-])"


@dataclass(frozen=True)
class Answer:
    seq: int  # the recorded exchange it comes from
    status: int
    headers: Mapping[str, str]  # lower-case names, as recorded (less the length, which changes)
    body: bytes


class _Recording(NamedTuple):
    exchange: Exchange
    exact: Hashable  # its body as compared
    seedless: Hashable  # the same without seed fields, for requests that send none


def seed_fields(spec: Spec) -> dict[str, frozenset[str]]:
    """The seed field names of each operation's body: its model's, or those of the models its body may name."""
    named = frozenset(
        name for m in spec.named_models.values() if (name := m.info.name_of(Role.SEED)) is not None
    )
    fields: dict[str, frozenset[str]] = {}
    for operation in spec.operations:
        if operation.model is not None:
            own = operation.model.name_of(Role.SEED)
            fields[operation.operation_id] = frozenset({own} if own else ())
        elif operation.body_schema_pointer() is not None:
            fields[operation.operation_id] = named
    return fields


class ReplayBook:
    """The recorded exchanges by operation and path, and what has been served of them.

    Used from the server's event loop only: the served marks need no lock.
    """

    def __init__(
        self,
        cassette: Cassette,
        seeds: Mapping[str, frozenset[str]] | None = None,
        *,
        id_headers: frozenset[str] = frozenset(),
        clock: Clock | None = None,
        time_scale: float = 0.0,
    ) -> None:
        self.cassette = cassette
        self._seeds = dict(seeds or {})
        self._id_headers = id_headers
        self._clock = clock if time_scale > 0 else None
        self._time_scale = time_scale
        self._first_at: dict[str, float] = {}  # request id -> when its first exchange was recorded
        self._began: dict[str, float] = {}  # request id -> when its first exchange was replayed (clock time)
        self._places: dict[tuple[str, str | None, str], list[_Recording]] = {}
        for ex in cassette.exchanges:
            body = recorded_body(ex)
            seeds_of = self._seeds.get(ex.operation or "", frozenset())
            try:
                recording = _Recording(ex, canonical(body), canonical(_without(body, seeds_of)))
            except RecursionError:  # a body no request could be compared with: it is never matched
                continue
            self._places.setdefault((ex.method.upper(), ex.operation, place_path(ex.path)), []).append(recording)
            request_id = self._request_id(ex)
            if request_id is not None:
                self._first_at.setdefault(request_id, ex.at)
        self._served: set[int] = set()
        self.links = LocalLinks(cassette)
        self._files = {place_path(local): stored for local, stored in cassette.files.items()}

    @classmethod
    def of(cls, cassette: Cassette, spec: Spec, clock: Clock | None = None, time_scale: float = 0.0) -> ReplayBook:
        id_headers = frozenset(spec.request_id_header(doc.dialect).lower() for doc in spec.documents)
        return cls(cassette, seed_fields(spec), id_headers=id_headers, clock=clock, time_scale=time_scale)

    def answer(self, method: str, operation: str | None, path: str, body: Any, base: str) -> Answer | None:
        """The recorded answer to a request (``body``: its JSON, its bytes when not JSON, None when
        empty), its links pointing at ``base``; None when no recording matches."""
        found = self._places.get((method.upper(), operation, place_path(path)))
        if not found:
            return None
        seeds = self._seeds.get(operation or "", frozenset())
        seeded = isinstance(body, Mapping) and any(name in body for name in seeds)
        try:
            key = canonical(body)
        except RecursionError:  # too deep to compare: no recording can be told to match it
            return None
        matching = [r for r in found if (r.exact if seeded else r.seedless) == key]
        if not matching:
            return None
        chosen = next((r for r in matching if r.exchange.seq not in self._served), matching[-1])
        if self._clock is not None:
            chosen = self._due(matching, chosen, self._clock.now())
        self._served.add(chosen.exchange.seq)
        return self._local(chosen.exchange, base)

    def _due(self, matching: list[_Recording], chosen: _Recording, now: float) -> _Recording:
        """``chosen`` once its recorded time (scaled) has come; until then the recording before it."""
        request_id = self._request_id(chosen.exchange)
        if request_id is None:
            return chosen
        began = self._began.setdefault(request_id, now)
        index = matching.index(chosen)
        if index == 0:
            return chosen
        wait = (chosen.exchange.at - self._first_at[request_id]) * self._time_scale
        return chosen if now - began >= wait else matching[index - 1]

    def _request_id(self, ex: Exchange) -> str | None:
        return next((ex.response.headers[n] for n in self._id_headers if n in ex.response.headers), None)

    def file(self, path: str) -> StoredFile | None:
        """The stored file served at ``path`` (as requested, escapes and all), if the cassette holds one."""
        return self._files.get(place_path(path))

    def _local(self, ex: Exchange, base: str) -> Answer:
        response = ex.response
        headers = {name: self.links.local(value, base) for name, value in response.headers.items()
                   if name != "content-length"}
        body = response.body
        if response.json is not None or _textual(response.headers.get("content-type", "")):
            with contextlib.suppress(UnicodeDecodeError):  # not UTF-8 after all: sent as it is
                body = self.links.local(body.decode("utf-8"), base).encode("utf-8")
        return Answer(ex.seq, ex.status, headers, body)


class LocalLinks:
    """Rewrites links to the cassette's upstreams and stored files so that they lead to the replaying server."""

    def __init__(self, cassette: Cassette) -> None:
        targets = {f.source: f.local_path for f in cassette.files.values() if f.source}
        for upstream in cassette.upstreams:
            url = upstream.url.rstrip("/")
            if url:
                targets.setdefault(url, upstream.prefix.rstrip("/"))
        self._targets = targets
        # Longest first, so a file's own link wins over its upstream's.
        alternatives = "|".join(re.escape(source) for source in sorted(targets, key=len, reverse=True))
        self._pattern = re.compile(f"(?:{alternatives}){_LINK_END}") if targets else None

    def local(self, text: str, base: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: base + self._targets[m.group(0)], text)


def recorded_body(ex: Exchange) -> Any:
    """A recorded request's body as :meth:`ReplayBook.answer` takes one."""
    if ex.request.json is not None:
        return ex.request.json
    return request_value(ex.request.headers.get("content-type", ""), ex.request.body)


def request_value(media: str, body: bytes) -> Any:
    """A request body as the book compares it: its JSON when it says it is JSON, a form's fields
    (name -> values), else its bytes; None when empty."""
    if not body:
        return None
    lower = media.lower()
    if "json" in lower:
        try:
            return jsontext.loads(body)
        except (ValueError, RecursionError):
            return body  # compared as bytes, as the cassette stores such a body
    if lower.startswith(_FORM):
        return _form_fields(media, body) or body
    return body


def _form_fields(media: str, body: bytes) -> dict[str, list[str]] | None:
    """A multipart form's fields in order, a file standing as a link; None when it is not one."""
    head = f"Content-Type: {media}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if part.get_filename() is not None:
            value = _FORM_FILE
        else:
            payload = part.get_payload(decode=True)
            value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        fields.setdefault(name, []).append(value)
    return fields


def bare_path(path: str) -> str:
    return path.split("?", 1)[0]


def place_path(path: str) -> str:
    """A path as recordings, files and requests are compared by: no query, escapes decoded.

    The recorder keeps paths as the client wrote them; decoding both sides makes
    ``%2F`` and ``/``, ``%20`` and a space, one place.
    """
    return unquote(bare_path(path))


def canonical(value: Any) -> Hashable:
    """``value`` as a hashable whole, every link made one and the same, JSON's kinds kept apart (true is not 1)."""
    if isinstance(value, str):
        return _LINK if value[:8].lower().startswith(_LINK_SCHEMES) else ("s", value)
    if value is None or isinstance(value, bool):
        return ("c", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, Mapping):
        return ("d", frozenset((str(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("l", tuple(canonical(v) for v in value))
    if isinstance(value, bytes):
        return ("b", value)
    return ("?", repr(value))


def _without(body: Any, names: frozenset[str]) -> Any:
    if not names or not isinstance(body, Mapping):
        return body
    return {k: v for k, v in body.items() if k not in names}


def _textual(media: str) -> bool:
    media = media.lower()
    return "json" in media or media.startswith("text/")
