"""What the scenario rules decided for the request being served.

The HTTP layer asks :class:`~mockserver.sim.scenarios.ScenarioBook` once per
request and serves the request inside :func:`serving`; the code it reaches
(the queue creating a job, the status stream, cancel) reads
:func:`current` instead of being handed the decision through every call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mockserver.sim.jobs import JobFailure


@dataclass
class JobDirectives:
    """What the rules ask of a job created by the current request."""

    step: bool = False
    hold_seconds: float = 0.0  # extra simulated time IN_QUEUE
    stall_seconds: float = 0.0  # extra simulated time IN_PROGRESS
    failure: JobFailure | None = None


@dataclass
class Decision:
    response: Mapping[str, Any] | None = None  # a response effect (see scenarios.RESPONSE_EFFECTS)
    latency_ms: float = 0.0
    corrupt: str | None = None  # "truncated" | "malformed"
    stream_interval_ms: float = 0.0
    cancel_race: bool = False
    job: JobDirectives = field(default_factory=JobDirectives)
    fired: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RequestTags:
    """The test a request belongs to and what its rules decided, for the code serving it."""

    test_id: str | None = None
    decision: Decision = field(default_factory=Decision)


_CURRENT: contextvars.ContextVar[RequestTags | None] = contextvars.ContextVar("flux_mock_request", default=None)
NO_TAGS = RequestTags()  # what current() says outside any request's tags


def current() -> RequestTags:
    """The tags of the request being served (empty outside one)."""
    return _CURRENT.get() or NO_TAGS


# The tags set here, or None outside any request's (an in-app re-dispatch runs inside its
# caller's): a plain call, for the code that asks on every request.
tags_here = _CURRENT.get


@contextmanager
def serving(tags: RequestTags) -> Iterator[None]:
    token = _CURRENT.set(tags)
    try:
        yield
    finally:
        _CURRENT.reset(token)
