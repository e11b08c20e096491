"""uvicorn's httptools protocol with joined writes and one keep-alive timer, and the check that it still fits.

This is the one module that reaches into uvicorn's private protocol
(``uvicorn.protocols.http.httptools_impl``), with the uvicorn versions that
pyproject.toml admits. What the subclass relies on there is written down in
:data:`RELIED_ON`; :func:`incompatibilities` compares it with the installed
uvicorn, and the server (:mod:`mockserver.runtime.server`) serves on
uvicorn's stock protocol when anything differs.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockserver.runtime.joined_writes import JoiningTransport


class JoiningHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`JoiningTransport`, with one keep-alive timer.

    uvicorn arms a new keep-alive timer after every answer and cancels it when
    the next request's first bytes arrive: a timer handle made and dropped per
    request. Here a connection keeps at most one timer: it is armed when the
    connection goes idle with none pending, and when it fires it closes the
    connection only if it has been idle for the whole timeout since its last
    answer; otherwise it waits out the rest (or, with a request in flight,
    leaves the next answer to arm it again). An idle connection is closed
    after the same timeout as uvicorn's, never sooner.
    """

    # When the connection last went idle (its last answer done), by the loop's clock;
    # None while a request is being read or answered.
    _idle_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn declares it
        self.joining = JoiningTransport(transport, self.loop)
        super().connection_made(self.joining)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._cancel_keep_alive()

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn calls this when bytes arrive (and when an answer ends): the connection is busy.
        # The timer stays armed; it sees the connection busy, or idle again since, when it fires.
        self._idle_since = None

    def on_response_complete(self) -> None:
        joining = self.joining
        joining.flush()  # a HEAD answer has no body write to carry its head
        joining.expect_head = True  # the next answer's first write is its head
        # What uvicorn's does, but for the keep-alive timer (RELIED_ON.replaced holds it to that).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:  # a pipelined request waits: start it
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_due)

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        idle_since = self._idle_since
        if idle_since is None:
            return  # a request is in flight: its answer arms the timer again
        left = idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_due)
        else:
            self.timeout_keep_alive_handler()

    def _cancel_keep_alive(self) -> None:
        task = self.timeout_keep_alive_task
        if task is not None:
            task.cancel()
            self.timeout_keep_alive_task = None


@dataclass(frozen=True)
class Reliance:
    """What :class:`JoiningHttpToolsProtocol` takes from uvicorn's protocol class."""

    # Methods it calls or overrides, with their parameters after ``self``.
    methods: dict[str, tuple[str, ...]]
    # Attributes it reads or sets, which uvicorn's ``__init__`` sets on every connection.
    attributes: tuple[str, ...]
    # Methods it replaces rather than extends, with every name uvicorn's use: one that uses
    # another name now does something the replacement does not.
    replaced: dict[str, frozenset[str]]


RELIED_ON = Reliance(
    methods={
        "connection_made": ("transport",),
        "connection_lost": ("exc",),
        "on_response_complete": (),
        "_unset_keepalive_if_required": (),
        "_start_asgi_task": ("cycle", "app"),
        "timeout_keep_alive_handler": (),
    },
    attributes=(
        "loop", "server_state", "transport", "flow", "pipeline", "timeout_keep_alive", "timeout_keep_alive_task",
    ),
    replaced={
        "on_response_complete": frozenset({
            "server_state", "total_requests", "transport", "is_closing", "_unset_keepalive_if_required", "flow",
            "resume_reading", "pipeline", "pop", "_start_asgi_task", "loop", "call_later", "timeout_keep_alive",
            "timeout_keep_alive_handler", "timeout_keep_alive_task",
        }),
        "_unset_keepalive_if_required": frozenset({"timeout_keep_alive_task", "cancel"}),
    },
)


def _names_used(function: Callable[..., Any] | None) -> frozenset[str]:
    """The attribute and global names a function's code refers to."""
    code = getattr(function, "__code__", None)
    return frozenset(code.co_names) if code is not None else frozenset()


def incompatibilities(upstream: type | None = None) -> list[str]:
    """How uvicorn's protocol (or ``upstream``) differs from what the subclass relies on; empty when it fits."""
    protocol = upstream or HttpToolsProtocol
    problems: list[str] = []
    for name, expected in RELIED_ON.methods.items():
        method = getattr(protocol, name, None)
        if not callable(method):
            problems.append(f"no method {name}()")
            continue
        try:
            found = tuple(inspect.signature(method).parameters)[1:]
        except (TypeError, ValueError):  # no signature to read: treat it as changed
            found = ("?",)
        if found != expected:
            problems.append(f"{name}({', '.join(found)}) instead of {name}({', '.join(expected)})")
    unset = [name for name in RELIED_ON.attributes if name not in _names_used(getattr(protocol, "__init__", None))]
    if unset:
        problems.append(f"__init__ does not set {', '.join(unset)}")
    for name, expected_names in RELIED_ON.replaced.items():
        used = _names_used(getattr(protocol, name, None))
        if used and used != expected_names:
            changes = [f"+{n}" for n in sorted(used - expected_names)]
            changes += [f"-{n}" for n in sorted(expected_names - used)]
            problems.append(f"{name}() changed ({' '.join(changes)})")
    return problems
