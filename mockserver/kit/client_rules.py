"""Client conformance: the rules a request can break, beyond being rejected.

The HTTP layer hands over what it observed about one exchange; this module
says which rules the client broke (their severities are in
:mod:`~mockserver.kit.rule_table`). Body rules come from the spec
(:mod:`~mockserver.kit.body_rules`). Behaviour rules follow one client's
history of a queued request: fetching the result before seeing COMPLETED,
polling faster than allowed, ignoring retry hints (the response headers the
spec gives the ``retry_delay``, ``retry_delay_ms`` and ``retry_advice``
roles), and building queue URLs instead of using the ones returned.

Provenance: an exchange says what the mock was told to do with it (a
scenario rule, an ``x-mock-fail-*`` header) through its ``injected`` marks,
``answer:<source>`` when the answer itself was made up, ``job:<source>``
when the job it created was shaped (made to fail, held, stepped). Such an
answer, or a later error about such a job, is never the client's fault: it
is noted as info, while what the client did next (its retries, its waits)
is still judged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mockserver.kit.body_rules import BodyRules
from mockserver.kit.journal import ERROR, Violation
from mockserver.kit.rule_table import violation
from mockserver.sim.jobs import JobState
from mockserver.spec.documents import Operation
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role

_REQUEST_PATH = re.compile(r"/requests/([^/?]+)")
_URL_KEYS = ("response_url", "status_url", "cancel_url")
_MAX_TRACKED = 10_000  # queued requests remembered per client
ANSWER = "answer"  # mark kinds: the answer was made up on purpose...
JOB = "job"  # ...or the job the request created was shaped on purpose
REPLAY = "replay"  # ...or a replaying mock had no recorded answer: "replay:simulated", "replay:404"


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as the HTTP layer saw them."""

    at: float
    test_id: str | None
    method: str
    path: str
    operation: Operation | None
    path_params: Mapping[str, str]
    content_type: str
    body: bytes
    status: int
    response_headers: Mapping[str, str]  # lower-case names
    response_json: Any = None
    finished: bool = True  # the whole answer was sent (a stream can be dropped half-way)
    body_read: bool = True  # False: the mock answered before reading the body, so there is none to judge
    injected: tuple[str, ...] = ()  # "answer:<source>" / "job:<source>" (see the module's docstring)
    forwarded: bool = False  # the proxy route handed it on; the exchange it made is judged instead
    target: str = ""  # a proxy request's target URL: calls to one proxy path for other targets are not repeats

    def marks(self, kind: str) -> list[str]:
        return [m.split(":", 1)[1] for m in self.injected if m.startswith(kind + ":")]


@dataclass
class _Tracked:
    """What one client was told about one queued request."""

    paths: set[str]
    completed_seen: bool = False
    last_poll_at: float | None = None
    shaped_by: tuple[str, ...] = ()  # what shaped its job on purpose
    cancelled: bool = False  # this client cancelled it


@dataclass
class _ClientState:
    requests: dict[str, _Tracked] = field(default_factory=dict)
    not_before: dict[tuple[str, str, str], float] = field(default_factory=dict)
    # The body told not to come again (None: its answer came before the body was read).
    no_retry: dict[tuple[str, str, str], bytes | None] = field(default_factory=dict)


class ClientRules:
    def __init__(self, spec: Spec, min_poll_interval: float, max_clients: int = 10_000) -> None:
        self._spec = spec
        self._bodies = BodyRules(spec)
        # The retry hints' header names in every dialect: the kit judges answers of any API.
        self._retry = RetryHints(spec)
        self._min_poll = min_poll_interval
        self._clients: dict[str | None, _ClientState] = {}
        self._max_clients = max_clients
        self._lock = threading.Lock()

    def check(self, ex: Exchange) -> list[Violation]:
        if ex.forwarded:
            return []  # the exchange the proxy made is journalled and judged on its own
        with self._lock:
            state = self._state(ex.test_id)
            tracked = self._tracked(state, ex)
            found = [*self._retries(state, ex), *self._body(ex), *self._queue(tracked, ex), *_replay_miss(ex)]
            found += self._outcome(tracked, ex, found)
            self._remember(state, ex)
        return found

    def forget(self, test_id: str | None = None) -> None:
        with self._lock:
            if test_id is None:
                self._clients.clear()
            else:
                self._clients.pop(test_id, None)

    # ---- rules -------------------------------------------------------------

    def _outcome(self, tracked: _Tracked | None, ex: Exchange, found: list[Violation]) -> list[Violation]:
        """Whose doing an error answer was: what the mock was told to do, or the client's."""
        answered = ex.marks(ANSWER)
        if answered:
            what = f"the mock answered {ex.status}" if ex.finished else "the mock dropped the connection"
            return [violation("fault.injected", f"{what} as {', '.join(answered)} asked")]
        if ex.status < 400 or (ex.status == 404 and ex.marks(REPLAY)):
            return []  # a replay miss refused is reported as one (see _replay_miss)
        handler = ex.operation.handler if ex.operation else ""
        if tracked is not None and tracked.cancelled and handler == "fal.result" and ex.status == 400:
            return [violation("queue.result-after-cancel", "fetched the result of a request it had cancelled")]
        shaped = [*ex.marks(JOB), *(tracked.shaped_by if tracked else ())]
        if shaped:
            return [violation("fault.injected", f"the mock answered {ex.status} as {', '.join(shaped)} asked")]
        # Cancelling a request that has just finished is a race every client can lose, not a fault.
        if handler == "fal.cancel" and ex.status == 400:
            return []
        if ex.status >= 500:
            return [violation("response.server-error", f"the mock answered {ex.status}: {_detail(ex.response_json)}")]
        if ex.status >= 400 and not any(v.severity == ERROR for v in found):
            return [violation("response.rejected", f"the mock answered {ex.status}: {_detail(ex.response_json)}")]
        return []

    def _body(self, ex: Exchange) -> list[Violation]:
        if ex.operation is None:
            return []
        return self._bodies.check(ex.operation, ex.path_params, ex.content_type, ex.body, read=ex.body_read)

    def _queue(self, tracked: _Tracked | None, ex: Exchange) -> list[Violation]:
        if tracked is None or ex.method == "POST":
            return []
        found: list[Violation] = []
        if ex.path not in tracked.paths:
            found.append(
                violation(
                    "queue.url-not-followed",
                    f"{ex.path} is not one of the URLs returned on submit ({', '.join(sorted(tracked.paths))})",
                )
            )
        handler = ex.operation.handler if ex.operation else ""
        if handler == "fal.status":
            if tracked.last_poll_at is not None and not tracked.completed_seen:
                gap = ex.at - tracked.last_poll_at
                if gap < self._min_poll:
                    found.append(
                        violation(
                            "queue.poll-too-fast",
                            f"status polled {gap:.3f}s after the previous poll; wait at least {self._min_poll:g}s",
                        )
                    )
            tracked.last_poll_at = ex.at
        elif handler == "fal.result" and not tracked.completed_seen and not tracked.cancelled:
            found.append(
                violation(
                    "queue.result-before-completed",
                    f"result fetched before a status answer said COMPLETED (the mock answered {ex.status})",
                )
            )
        return found

    def _retries(self, state: _ClientState, ex: Exchange) -> list[Violation]:
        """A repeat of a refused request: after the delay it was given, and only if it may be retried."""
        key = (ex.method, ex.path, ex.target)
        found: list[Violation] = []
        not_before = state.not_before.pop(key, None)
        if not_before is not None and ex.at < not_before:
            early = not_before - ex.at
            found.append(violation("http.retry-after-ignored", f"retried {early:.3f}s before the retry delay ended"))
        if key in state.no_retry and state.no_retry.pop(key) in (None, ex.body):
            message = f"repeated a request whose answer said not to retry ({self._retry.refused_by})"
            found.append(violation("http.retry-refused-ignored", message))
        return found

    # ---- memory ------------------------------------------------------------

    def _state(self, test_id: str | None) -> _ClientState:
        state = self._clients.get(test_id)
        if state is None:
            if len(self._clients) >= self._max_clients:
                self._clients.pop(next(iter(self._clients)))
            state = self._clients[test_id] = _ClientState()
        return state

    @staticmethod
    def _tracked(state: _ClientState, ex: Exchange) -> _Tracked | None:
        match = _REQUEST_PATH.search(ex.path)
        return state.requests.get(match.group(1)) if match else None

    def _remember(self, state: _ClientState, ex: Exchange) -> None:
        key = (ex.method, ex.path, ex.target)
        delay = self._retry.delay(ex.response_headers)
        if delay is not None:
            state.not_before[key] = ex.at + delay
        if self._retry.refused(ex.response_headers):
            # An answer made before the body was read (a fault header) refuses any repeat of the call.
            state.no_retry[key] = ex.body if ex.body_read else None
        handler = ex.operation.handler if ex.operation else ""
        body = ex.response_json if isinstance(ex.response_json, Mapping) else {}
        if handler == "fal.submit" and ex.status < 300 and isinstance(body.get("request_id"), str):
            paths = {urlsplit(str(body[k])).path for k in _URL_KEYS if isinstance(body.get(k), str)}
            paths |= {p + "/stream" for p in paths if p.endswith("/status")}
            state.requests[body["request_id"]] = _Tracked(paths, shaped_by=tuple(ex.marks(JOB)))
            if len(state.requests) > _MAX_TRACKED:  # forget the oldest; dicts keep insertion order
                state.requests.pop(next(iter(state.requests)))
        tracked = self._tracked(state, ex)
        if tracked is None:
            return
        if handler == "fal.cancel" and ex.status < 300:
            tracked.cancelled = True
        # The status stream closes only after its COMPLETED event.
        finished_stream = handler == "fal.status_stream" and ex.status == 200 and ex.finished
        if (handler == "fal.status" and body.get("status") == JobState.COMPLETED.value) or finished_stream:
            tracked.completed_seen = True


class RetryHints:
    """Reads an answer's retry hints as the official clients do, under the spec's header names.

    The millisecond hint (the OpenAI SDKs' own, and more precise) wins over
    the one in seconds; an HTTP date in ``Retry-After`` is never sent by the mock.
    """

    def __init__(self, spec: Spec) -> None:
        self._millis = spec.answer_header_names(Role.RETRY_DELAY_MS)
        self._seconds = spec.answer_header_names(Role.RETRY_DELAY)
        self._advice = spec.answer_header_names(Role.RETRY_ADVICE)
        self.refused_by = " or ".join(f"{name}: false" for name in self._advice)

    def delay(self, headers: Mapping[str, str]) -> float | None:
        """Seconds an answer asks the client to wait before trying again."""
        for name in self._millis:
            millis = _number(headers.get(name))
            if millis is not None:
                return millis / 1000
        for name in self._seconds:
            seconds = _number(headers.get(name))
            if seconds is not None:
                return seconds
        return None

    def refused(self, headers: Mapping[str, str]) -> bool:
        """Whether an answer tells the client not to retry at all."""
        return any(headers.get(name, "").strip().lower() == "false" for name in self._advice)


def _replay_miss(ex: Exchange) -> list[Violation]:
    """A request the cassette had no answer for: the client may have changed, or the cassette be stale."""
    missed = ex.marks(REPLAY)
    if not missed:
        return []
    what = "answered 404" if "404" in missed else "simulated it"
    return [violation("replay.miss", f"no recorded answer matched {ex.method} {ex.path}; the mock {what}")]


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return max(0.0, number) if number == number else None  # NaN is no delay at all


def _detail(body: Any) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):  # the OpenAI shape
        error = body["error"]
        words = str(error.get("message", ""))
        tags = ", ".join(f"{k} {error[k]}" for k in ("type", "code") if error.get(k))
        return f"{words} ({tags})" if tags else words
    if isinstance(body, Mapping) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
            return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail[:5])
        return str(detail)
    if isinstance(body, Mapping) and "status" in body:
        return str(body["status"])
    return "(no JSON detail)"
