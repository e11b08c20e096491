"""What the scenario rules decided for one request.

:class:`~mockserver.sim.scenarios.ScenarioBook` makes a :class:`Decision`;
the HTTP layer's scenario gate keeps it with the request, and the route hands
what concerns the queue (the test id, the :class:`JobDirectives`) to
:class:`~mockserver.sim.queue.JobQueue` as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.sim.jobs import JobFailure


@dataclass
class JobDirectives:
    """What the rules ask of a job the request creates."""

    step: bool = False
    hold_seconds: float = 0.0  # extra simulated time IN_QUEUE
    stall_seconds: float = 0.0  # extra simulated time IN_PROGRESS
    failure: JobFailure | None = None
    flagged: bool = False  # the safety checker blocks its output
    requeues: int = 0  # runner failures before the attempt that succeeds
    unserialisable_output: bool = False  # its webhook says payload_error instead of the output


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
class Ruling:
    """The test a request belongs to and what the rules decided for it."""

    test_id: str | None = None
    decision: Decision = field(default_factory=Decision)


NO_RULING = Ruling()  # a request no rule and no test id concerns
