"""The request journal: what clients sent, what the mock answered, what broke the contract.

Entries are plain data (no HTTP types) so tests, the ``check`` command and the
admin route all read the same records. Each entry belongs to the test that
sent it when the request carried an ``X-Mock-Test-Id`` header.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

# Severity tiers (the table of rules is client_rules.RULES): an error breaks the contract and
# fails a check; a warning is legal but unwise, or beyond what the official clients do, and fails
# only a strict check; info says what the mock was told to do, and never fails anything.
ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)
# Header names whose values are secrets; their values are masked in the journal.
_SECRET_WORDS = ("authorization", "cookie", "key", "token", "secret", "password")
_MAX_STRING = 120
T = TypeVar("T")


@dataclass(frozen=True)
class Violation:
    """One way a request broke the contract: which rule, which field, in words."""

    rule: str
    message: str
    field: str | None = None
    severity: str = ERROR

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "field": self.field, "message": self.message}


@dataclass
class Entry:
    seq: int
    at: float
    test_id: str | None
    method: str
    path: str
    query: str
    operation: str | None
    headers: dict[str, str]
    body: Any
    status: int | None
    duration_ms: float
    request_id: str | None = None
    violations: list[Violation] = field(default_factory=list)
    billable_units: float | None = None  # what the answer billed (its billable_units header)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "test_id": self.test_id,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "request_id": self.request_id,
            "billable_units": self.billable_units,
            "violations": [v.as_json() for v in self.violations],
        }


@dataclass(frozen=True)
class Query:
    """Filters for reading the journal; ``None`` means "any"."""

    test_id: str | None = None
    method: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    only_violations: bool = False
    since: int = 0  # entries with seq greater than this
    offset: int = 0
    limit: int = 100

    def matches(self, entry: Entry) -> bool:
        return (
            entry.seq > self.since
            and (self.test_id is None or entry.test_id == self.test_id)
            and (self.method is None or entry.method == self.method.upper())
            and (self.path_prefix is None or entry.path.startswith(self.path_prefix))
            and (self.status is None or entry.status == self.status)
            and (not self.only_violations or bool(entry.violations))
        )


class _Waiting(NamedTuple):
    """Records numbered but not yet made into entries: one, or a batch of ``records``."""

    make: Callable[[int, Any], Any]  # (first seq, data) -> the entry, or for a batch a list of them
    data: Any
    records: int
    batch: bool


class Journal:
    """A bounded, thread-safe log of entries, oldest dropped first.

    An entry can be added ready-made (:meth:`add`) or as the means to make it
    (:meth:`add_later`, or :meth:`add_batch_later` for several records at once):
    recording a request then costs a few copies, and the checking and
    summarising that turn it into an entry run, in order, only when someone
    reads or clears the journal. Unread records past the bound are dropped
    unmade, as their entries would have been, a batch at a time: a batch that
    straddles the bound is made whole and its oldest entries then dropped.

    A writer that holds records back to hand them over in batches names a
    ``feed`` (:meth:`feed_from`): every read, count or numbering asks it to
    hand over what it holds first, so the journal's order and numbers are
    those of the exchanges.
    """

    def __init__(self, max_entries: int) -> None:
        self._bound = max(1, max_entries)
        self._entries: deque[Entry] = deque(maxlen=self._bound)
        self._waiting: deque[_Waiting] = deque()
        self._waiting_records = 0
        self._last = 0
        self._lock = threading.Lock()
        self._feed: Callable[[], None] | None = None

    def feed_from(self, feed: Callable[[], None]) -> None:
        """``feed()`` hands this journal the records it holds back (through add_later or add_batch_later)."""
        self._feed = feed

    def _pull(self) -> None:
        # Outside the lock: the feed adds through add_later and add_batch_later, which take it.
        feed = self._feed
        if feed is not None:
            feed()

    @property
    def last_seq(self) -> int:
        self._pull()
        with self._lock:
            return self._last

    def add_later(self, make: Callable[[int, T], Entry | None], data: T) -> int:
        """Number a record now; ``make(seq, data)`` builds its entry when the journal is next read."""
        return self._wait(_Waiting(make, data, 1, False))

    def add_batch_later(self, make: Callable[[int, T], list[Entry | None]], data: T, count: int) -> int:
        """Number ``count`` records now; ``make(first_seq, data)`` builds their entries, in order,
        when the journal is next read. Returns the last number."""
        return self._wait(_Waiting(make, data, count, True))

    def _wait(self, item: _Waiting) -> int:
        with self._lock:
            self._last += item.records
            self._waiting.append(item)
            self._waiting_records += item.records
            # Past the bound, the oldest waiting records would only be made to be dropped.
            while self._waiting_records - self._waiting[0].records >= self._bound:
                self._waiting_records -= self._waiting.popleft().records
            return self._last

    @property
    def waiting(self) -> int:
        """Records not yet made into entries (those a feed holds back included)."""
        self._pull()
        with self._lock:
            return self._waiting_records

    def settle(self) -> None:
        """Make the entries of every record still pending (so they cost nothing more later)."""
        self._pull()
        with self._lock:
            self._settle()

    def _settle(self) -> None:
        # Waiting records carry consecutive numbers ending at the last one handed out.
        seq = self._last - self._waiting_records
        while self._waiting:
            item = self._waiting.popleft()
            self._waiting_records -= item.records
            made = item.make(seq + 1, item.data)
            seq += item.records
            for entry in made if item.batch else (made,):
                if entry is not None:
                    self._entries.append(entry)

    def read(self, query: Query) -> tuple[list[Entry], int]:
        self._pull()
        with self._lock:
            self._settle()
            found = sorted((e for e in self._entries if query.matches(e)), key=lambda e: e.seq)
        return found[query.offset : query.offset + query.limit], len(found)

    def clear(self, test_id: str | None = None) -> int:
        """Drop every entry, or only those of one test; returns how many went."""
        self._pull()
        with self._lock:
            self._settle()
            before = len(self._entries)
            if test_id is None:
                self._entries.clear()
            else:
                kept = [e for e in self._entries if e.test_id != test_id]
                self._entries.clear()
                self._entries.extend(kept)
            return before - len(self._entries)


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header values with credentials masked; the scheme word (Key/Bearer) is kept."""
    out: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if any(word in lower for word in _SECRET_WORDS):
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} ***".strip()
        out[lower] = value
    return out


def summarize(value: Any, depth: int = 0) -> Any:
    """A JSON body small enough to keep: long strings (data URIs) are cut, deep nesting elided."""
    if depth > 6:
        return "…"
    if isinstance(value, str):
        if len(value) <= _MAX_STRING:
            return value
        return f"{value[:60]}… ({len(value)} chars)"
    if isinstance(value, Mapping):
        return {str(k): summarize(v, depth + 1) for k, v in itertools.islice(value.items(), 50)}
    if isinstance(value, list):
        items = [summarize(v, depth + 1) for v in value[:20]]
        if len(value) > 20:
            items.append(f"… ({len(value)} items)")
        return items
    return value
