"""Recording every exchange in the journal.

:class:`~mockserver.http.front.Front` hands each answer of an exchange to a
:class:`Recording`, so streams pass through untouched and the cost per
request stays a few references: the request body the app read (which
:mod:`~mockserver.http.bodies` leaves in the scope), the response's status,
headers and (small, JSON) body as they are sent. The
rules and the summaries run when the journal is read (see
:class:`~mockserver.kit.journal.Journal`), in the order the exchanges happened,
so a mock nobody asks about spends nothing on judging.
"""

from __future__ import annotations

import logging
import marshal
import threading
import time
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, NamedTuple

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from mockserver.http.bodies import BODY_READ, BODY_STREAMED, PARENT_SCOPE
from mockserver.http.passage import Headers, Passage
from mockserver.kit.client_rules import REPLAY, ClientRules, Exchange
from mockserver.kit.journal import Entry, Journal, redact_headers, summarize
from mockserver.sim.clock import Clock
from mockserver.spec import jsontext
from mockserver.spec.documents import Operation
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role

log = logging.getLogger("mockserver")

# What the mock was told to do with a request ("answer:<source>", "job:<source>"; see
# client_rules), noted in its scope by the code that obeyed, so no verdict blames the client.
INJECTED = "flux_mock.injected"
# Set on the proxy call's scope when it hands the request on: the exchange it makes is judged.
FORWARDED = "flux_mock.forwarded"
_MAX_RESPONSE_COPY = 256 * 1024
# Exchanges bigger than this are judged at once instead of held, bytes and all, until a read.
_KEEP_UNJUDGED_BYTES = 16 * 1024
# Version 2: no back-references, the fastest to write; records are read back by the same process.
_MARSHAL_VERSION = 2
# Exchanges packed and handed to the journal together.
_BATCH = 64


class Recorder:
    """Where exchanges are written, which rules judge them, how routes are named."""

    def __init__(self, journal: Journal, rules: ClientRules, spec: Spec, clock: Clock) -> None:
        self.journal = journal
        self.rules = rules
        self.clock = clock
        self._operations = {op.operation_id: op for op in spec.operations}
        self._target_headers: dict[str, list[str]] = {}  # operation id -> its proxy_target header names
        # Every header any operation gives role store_io (lower-case).
        self._store_io_headers = frozenset(n for op in spec.operations for n in op.header_names(Role.STORE_IO))
        self._spec = spec
        self._test_id_header = spec.test_id_header
        # Each API names its request id header in its spec; a dialect without one stops start-up.
        self._request_id_headers = {doc.dialect: spec.request_id_header(doc.dialect) for doc in spec.documents}
        self._units_headers = spec.answer_header_names(Role.BILLABLE_UNITS)
        self._routes_by_endpoint: dict[Any, BaseRoute] = {}
        self._routes_by_name: dict[str, Route] = {}
        self._entry = self.entry  # one bound method for every record, not one each
        self._held: deque[tuple[Any, ...]] = deque()  # finished exchanges not yet handed to the journal
        self._flushing = threading.Lock()
        journal.feed_from(self.flush)

    def know_routes(self, routes: Sequence[BaseRoute]) -> None:
        # Starlette before 1.8 puts only the endpoint, not the route, in the scope.
        self._routes_by_endpoint = {getattr(r, "endpoint", None): r for r in routes}
        self._routes_by_name = {}
        for route in routes:
            if isinstance(route, Route):
                self._routes_by_name.setdefault(route.name, route)

    def operation_of(self, scope: Scope, method: str) -> str | None:
        """The operation this request was routed to (None: no route took it, or only to answer 405)."""
        route: BaseRoute | None = scope.get("route")
        if route is None:
            route = self._routes_by_endpoint.get(scope.get("endpoint"))
        if route is None or not isinstance(route, Route) or (route.methods and method not in route.methods):
            return None
        return route.name if route.name in self._operations else None

    def keep(self, fields: tuple[Any, ...]) -> None:
        """Hand a finished exchange to the journal, to be judged when the journal is read.

        Small exchanges wait in the journal packed, a batch of them into one
        bytes object: thousands of records waiting as a single object each cost
        the allocator (and the requests that come after them) far less than as
        the dozens of small objects a request's headers, bodies and parameters
        are made of, and packing a batch at a time spares a call into marshal
        and the journal per exchange. Until its batch is full an exchange is
        held here; the journal asks for held exchanges before it is read or
        numbers anything (:meth:`flush`). ``fields`` are those of a
        :class:`Seen`, as a plain tuple (cheaper to build, and what marshal takes).
        """
        if len(fields[_BODY]) + len(fields[_RESPONSE_BODY]) > _KEEP_UNJUDGED_BYTES:
            self.flush()  # the exchanges before it keep their places
            self.journal.add_later(self._entry, fields)
            self.journal.settle()  # judge big exchanges now rather than hold their bytes
            return
        held = self._held
        held.append(fields)
        if len(held) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Hand the held exchanges to the journal, packed, in the order they finished."""
        with self._flushing:  # a read from another thread may flush while the loop's thread does
            held = self._held
            batch = []
            while held:  # popleft, not a swap: the serving thread may be appending meanwhile
                batch.append(held.popleft())
            if not batch:
                return
            try:
                packed = marshal.dumps(batch, _MARSHAL_VERSION)
            except ValueError:  # a value of a type marshal does not know (an int subclass as status)
                for fields in batch:
                    self.journal.add_later(self._entry, fields)
                return
            self.journal.add_batch_later(self._entries, packed, len(batch))

    def _entries(self, seq: int, packed: bytes) -> list[Entry | None]:
        return [self.entry(seq + n, tuple(fields)) for n, fields in enumerate(marshal.loads(packed))]

    def entry(self, seq: int, record: tuple[Any, ...] | bytes) -> Entry | None:
        seen = Seen._make(marshal.loads(record) if isinstance(record, bytes) else record)
        try:
            return self._judge(seq, seen)
        except Exception:  # the journal must never break an answer, or a read of it
            log.exception("could not journal %s %s", seen.method, seen.path)
            return None

    def _target(self, operation: Operation | None, request_headers: Mapping[str, str]) -> str:
        """The URL a proxy request stands for (its header with role ``proxy_target``), else ""."""
        if operation is None:
            return ""
        names = self._target_headers.get(operation.operation_id)
        if names is None:
            names = self._target_headers[operation.operation_id] = operation.header_names(Role.PROXY_TARGET)
        return next((request_headers[n] for n in names if n in request_headers), "")

    def _keeps_no_payload(self, headers: list[tuple[str, str]]) -> bool:
        """Whether the request asked that its payload not be stored (a ``store_io`` header says 0).

        Whatever route it came by (the proxy forwards it for a submit that declares it), and
        if any copy of the header says so: privacy errs on the side of keeping nothing."""
        names = self._store_io_headers
        return bool(names) and any(k.lower() in names and v.strip() == "0" for k, v in headers)

    def _path_params(self, seen: Seen) -> Mapping[str, Any]:
        # Matched again rather than recorded: the same route takes the same path the same way,
        # and a record without them packs smaller and faster.
        route = self._routes_by_name.get(seen.operation_id or "")
        if route is None:
            return {}
        scope = {"type": "http", "path": seen.path, "root_path": seen.root_path, "method": seen.method}
        match, child = route.matches(scope)
        return child.get("path_params", {}) if match is not Match.NONE else {}

    def _judge(self, seq: int, seen: Seen) -> Entry:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in seen.headers]
        request_headers = {k.lower(): v for k, v in headers}
        response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in seen.response_headers}
        operation = self._operations.get(seen.operation_id) if seen.operation_id else None
        response_json = _json_or_none(seen.response_body, response_headers.get("content-type", ""))
        exchange = Exchange(
            at=seen.at,
            test_id=request_headers.get(self._test_id_header),
            method=seen.method,
            path=seen.path,
            operation=operation,
            path_params=self._path_params(seen) if operation else {},
            content_type=request_headers.get("content-type", ""),
            body=seen.body,
            status=seen.status,
            response_headers=response_headers,
            response_json=response_json,
            finished=seen.finished,
            body_read=seen.body_read,
            injected=tuple(seen.injected),
            forwarded=seen.forwarded,
            target=self._target(operation, request_headers),
        )
        violations = self.rules.check(exchange)
        request_json = _json_or_none(seen.body, "application/json") if seen.body else None
        if self._keeps_no_payload(headers):
            request_json, seen = None, seen._replace(body=b"")  # judged above, kept nowhere
        return Entry(
            seq=seq,
            at=seen.at,
            test_id=exchange.test_id,
            method=exchange.method,
            path=exchange.path,
            query=seen.query.decode("latin-1"),
            operation=seen.operation_id if operation else None,
            headers=redact_headers(headers),
            body=summarize(request_json) if request_json is not None else _raw_summary(seen.body, seen.streamed),
            status=exchange.status,
            duration_ms=seen.duration_ms,
            request_id=response_headers.get(self._request_id_headers[self._spec.document_for_path(seen.path).dialect]),
            violations=violations,
            billable_units=_units(response_headers, self._units_headers),
        )



class Seen(NamedTuple):
    """One finished exchange as the journal holds it until it is read (plain data, so it packs)."""

    at: float
    duration_ms: float
    method: str
    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    operation_id: str | None
    root_path: str  # with the path and the operation's route, gives the path parameters
    body: bytes
    status: int
    response_headers: list[tuple[bytes, bytes]]
    response_body: bytes
    finished: bool
    body_read: bool
    injected: list[str]
    forwarded: bool
    streamed: int = 0  # the size of an upload's body, streamed to the store and not kept in ``body``


_BODY = Seen._fields.index("body")
_RESPONSE_BODY = Seen._fields.index("response_body")


class Recording(Passage):
    """One exchange being copied: the answer as it is sent, then the request body the app read.

    Once the answer is out, what the rules read is taken from it and from the
    scope (not the scope itself, which holds the connection) and handed to
    the :class:`Recorder` as the fields of a :class:`Seen`, for the journal.
    """

    __slots__ = ("answer", "answer_size", "at", "recorder", "response_headers", "scope", "status", "ticks")

    def __init__(
        self, recorder: Recorder, scope: Scope, receive: Receive, send: Send, id_header: bytes | None, id_value: bytes
    ) -> None:
        # The server's receive: the body is taken from the scope (see bodies.BODY_READ).
        super().__init__(receive, send, id_header, id_value)
        self.recorder = recorder
        self.scope: Scope | None = scope  # None once recorded
        self.at = recorder.clock.now()
        self.ticks = time.perf_counter()
        self.status = 500
        self.response_headers: Headers = []
        self.answer: list[bytes | memoryview] | None = None  # JSON answers only, and None once too big to keep
        self.answer_size = 0

    def send(self, message: Message) -> Awaitable[None]:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            if self.id_header is not None:
                self.stamp(message)
            self.status = message["status"]
            self.response_headers = message.get("headers", [])
            # Only JSON answers are read by the rules: images and streams are not copied.
            for name, value in self.response_headers:
                if name.lower() == b"content-type":
                    if b"json" in value:
                        self.answer = []
                    break
        elif kind == "http.response.body":
            chunk = message.get("body", b"")
            if self.answer is not None:
                self.answer_size += len(chunk)
                if self.answer_size <= _MAX_RESPONSE_COPY:
                    self.answer.append(chunk)
                else:  # too big to keep: keep nothing rather than a corrupt prefix
                    self.answer = None
            if not message.get("more_body", False):
                # Journal first, so a client that reads the journal after its answer finds the entry.
                self.record(finished=True)
        return self._send(message)

    async def send_json(self, status: int, headers: Headers, body: bytes | memoryview) -> None:
        start = self.head(status, headers)
        self.status = status
        self.response_headers = start["headers"]
        await self._send(start)
        self.answer = [body] if len(body) <= _MAX_RESPONSE_COPY else None  # (sent: see send)
        self.record(finished=True)  # as send does: journal first, then the body
        await self._send({"type": "http.response.body", "body": body})

    def done(self) -> None:
        if self.scope is not None:  # not recorded as the answer ended
            self.record(finished=False)

    def record(self, finished: bool) -> None:
        scope = self.scope
        if scope is None:
            return
        self.scope = None
        recorder = self.recorder
        method: str = scope["method"]
        recorder.keep(
            (  # the fields of a Seen
                self.at,
                (time.perf_counter() - self.ticks) * 1000,
                method,
                scope["path"],
                scope.get("query_string", b""),
                scope.get("headers", []),
                recorder.operation_of(scope, method),
                scope.get("root_path", ""),
                scope.get(BODY_READ, b""),
                self.status,
                self.response_headers,
                b"".join(self.answer) if self.answer else b"",
                finished,
                BODY_READ in scope,
                scope.get(INJECTED, []),
                FORWARDED in scope,
                scope.get(BODY_STREAMED, 0),
            )
        )
        self.answer = None


def note_injected(scope: Scope, kind: str, source: str) -> None:
    """Note that the mock answers this request (``kind`` "answer") or shapes its job ("job") on purpose."""
    at: Scope | None = scope
    while at is not None:  # the proxy call that made this request answers the same
        at.setdefault(INJECTED, []).append(f"{kind}:{source}")
        at = at.get(PARENT_SCOPE)


def note_replay_miss(scope: Scope, outcome: str) -> None:
    """Note that a replaying mock had no recorded answer for this request; ``outcome`` says what it did
    instead ("simulated", or "404")."""
    note_injected(scope, REPLAY, outcome)


def _json_or_none(data: bytes, content_type: str) -> Any:
    if not data or "json" not in content_type:
        return None
    try:
        return jsontext.loads(data)
    except (ValueError, RecursionError):  # not UTF-8 or not JSON (NaN, 1e400 included)
        return None


def _raw_summary(body: bytes, streamed: int = 0) -> str | None:
    size = streamed or len(body)
    return f"({size} bytes, not JSON)" if size else None


def _units(headers: Mapping[str, str], names: Sequence[str]) -> float | None:
    for name in names:
        text = headers.get(name)
        if text is not None:
            try:
                return float(text)
            except ValueError:
                return None
    return None
