"""Client conformance: the rules a request can break, beyond being rejected.

The HTTP layer hands over what it observed about one exchange; this module
says which rules the client broke. Body rules come from the spec (the same
validators the mock uses to reject requests, plus unknown fields, which fal
ignores and so are only warnings). Behaviour rules follow one client's
history of a queued request: fetching the result before seeing COMPLETED,
polling faster than allowed, ignoring ``Retry-After``, and building queue
URLs instead of using the ones returned.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mockserver.kit.journal import ERROR, WARNING, Violation
from mockserver.sim.jobs import JobState
from mockserver.spec import jsontext
from mockserver.spec.loader import Operation, Spec
from mockserver.spec.validation import validate

_REQUEST_PATH = re.compile(r"/requests/([^/?]+)")
_URL_KEYS = ("response_url", "status_url", "cancel_url")
_MAX_TRACKED = 10_000  # queued requests remembered per client


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


@dataclass
class _Tracked:
    """What one client was told about one queued request."""

    paths: set[str]
    completed_seen: bool = False
    last_poll_at: float | None = None


@dataclass
class _ClientState:
    requests: dict[str, _Tracked] = field(default_factory=dict)
    not_before: dict[tuple[str, str], float] = field(default_factory=dict)


class ClientRules:
    def __init__(self, spec: Spec, min_poll_interval: float, max_clients: int = 10_000) -> None:
        self._spec = spec
        self._min_poll = min_poll_interval
        self._clients: dict[str | None, _ClientState] = {}
        self._max_clients = max_clients
        self._lock = threading.Lock()

    def check(self, ex: Exchange) -> list[Violation]:
        with self._lock:
            state = self._state(ex.test_id)
            found = [*self._retry_after(state, ex), *self._body(ex), *self._queue(state, ex)]
            self._remember(state, ex)
        # Cancelling a request that has just finished is a race every client can lose, not a fault.
        lost_race = ex.operation is not None and ex.operation.handler == "fal.cancel" and ex.status == 400
        if ex.status >= 400 and not lost_race and not any(v.severity == ERROR for v in found):
            found.append(Violation("response.rejected", f"the mock answered {ex.status}: {_detail(ex.response_json)}"))
        return found

    def forget(self, test_id: str | None = None) -> None:
        with self._lock:
            if test_id is None:
                self._clients.clear()
            else:
                self._clients.pop(test_id, None)

    # ---- rules -------------------------------------------------------------

    def _body(self, ex: Exchange) -> list[Violation]:
        op = self._body_operation(ex)
        pointer = op.body_schema_pointer() if op else None
        if op is None or pointer is None:
            return []
        media = ex.content_type.split(";")[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            return [Violation("body.content-type", f"body sent as {media!r}; the operation takes application/json")]
        try:
            body = jsontext.loads(ex.body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return [Violation("body.json", f"body is not valid JSON: {exc}")]
        found = [
            Violation(f"schema.{issue.type}", issue.msg, issue.field_path)
            for issue in validate(self._spec.validator(op.document, pointer), body)
        ]
        known = self._spec.property_names(op.document, pointer)
        if isinstance(body, Mapping) and known is not None:
            for name in body:
                if name not in known:
                    found.append(
                        Violation(
                            "schema.unknown-field",
                            f"field {name!r} is not in {op.operation_id}'s input schema; the server ignores it",
                            str(name),
                            WARNING,
                        )
                    )
        return found

    def _body_operation(self, ex: Exchange) -> Operation | None:
        op = ex.operation
        if op is None:
            return None
        if op.model is None and "endpoint_id" in ex.path_params:
            return self._spec.model(ex.path_params["endpoint_id"])  # the run host takes any model's body
        return op

    def _queue(self, state: _ClientState, ex: Exchange) -> list[Violation]:
        match = _REQUEST_PATH.search(ex.path)
        if match is None or ex.method == "POST":
            return []
        tracked = state.requests.get(match.group(1))
        if tracked is None:
            return []
        found: list[Violation] = []
        if ex.path not in tracked.paths:
            found.append(
                Violation(
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
                        Violation(
                            "queue.poll-too-fast",
                            f"status polled {gap:.3f}s after the previous poll; wait at least {self._min_poll:g}s",
                        )
                    )
            tracked.last_poll_at = ex.at
        elif handler == "fal.result" and not tracked.completed_seen:
            found.append(
                Violation(
                    "queue.result-before-completed",
                    f"result fetched before a status answer said COMPLETED (the mock answered {ex.status})",
                )
            )
        return found

    def _retry_after(self, state: _ClientState, ex: Exchange) -> list[Violation]:
        key = (ex.method, ex.path)
        not_before = state.not_before.pop(key, None)
        if not_before is not None and ex.at < not_before:
            early = not_before - ex.at
            return [Violation("http.retry-after-ignored", f"retried {early:.3f}s before the Retry-After delay ended")]
        return []

    # ---- memory ------------------------------------------------------------

    def _state(self, test_id: str | None) -> _ClientState:
        state = self._clients.get(test_id)
        if state is None:
            if len(self._clients) >= self._max_clients:
                self._clients.pop(next(iter(self._clients)))
            state = self._clients[test_id] = _ClientState()
        return state

    def _remember(self, state: _ClientState, ex: Exchange) -> None:
        delay = _retry_seconds(ex.response_headers.get("retry-after"))
        if delay is not None:
            state.not_before[(ex.method, ex.path)] = ex.at + delay
        handler = ex.operation.handler if ex.operation else ""
        body = ex.response_json if isinstance(ex.response_json, Mapping) else {}
        if handler == "fal.submit" and ex.status < 300 and isinstance(body.get("request_id"), str):
            paths = {urlsplit(str(body[k])).path for k in _URL_KEYS if isinstance(body.get(k), str)}
            paths |= {p + "/stream" for p in paths if p.endswith("/status")}
            state.requests[body["request_id"]] = _Tracked(paths)
            if len(state.requests) > _MAX_TRACKED:  # forget the oldest; dicts keep insertion order
                state.requests.pop(next(iter(state.requests)))
        match = _REQUEST_PATH.search(ex.path)
        tracked = state.requests.get(match.group(1)) if match else None
        if tracked is None:
            return
        # The status stream closes only after its COMPLETED event.
        finished_stream = handler == "fal.status_stream" and ex.status == 200 and ex.finished
        if (handler == "fal.status" and body.get("status") == JobState.COMPLETED.value) or finished_stream:
            tracked.completed_seen = True


def _retry_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the mock never sends one


def _detail(body: Any) -> str:
    if isinstance(body, Mapping) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
            return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail[:5])
        return str(detail)
    if isinstance(body, Mapping) and "status" in body:
        return str(body["status"])
    return "(no JSON detail)"
