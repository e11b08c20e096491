"""A request's life: its timeline, and what its status looks like at a moment.

A job holds times, not a mutable state: IN_QUEUE, IN_PROGRESS and COMPLETED are
read off the timeline for a given "now", so the same job answers consistently
whichever clock drives it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mockserver.sim.generation import Output, Plan
from mockserver.sim.inputs import ResolvedInput
from mockserver.spec.validation import Issue

LOG_STEPS = 28  # denoising steps the progress lines count through


class JobState(enum.StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class JobFailure:
    """How a job that ran ends badly: what its status and result say."""

    status_code: int
    error: str
    error_type: str
    issues: tuple[Issue, ...] = ()
    # An exact result body (a scenario's), instead of one built from the fields above.
    payload: Mapping[str, Any] | None = field(default=None, compare=False)
    # "user" when the caller's own deadline ended it: clients never retry such a 504.
    timeout_type: str | None = None

    def body(self) -> dict[str, Any]:
        if self.payload is not None:
            return dict(self.payload)
        if self.issues:
            return {"detail": [i.as_json() for i in self.issues]}
        return {"detail": self.error, "error_type": self.error_type}


@dataclass(frozen=True, slots=True)
class Charge:
    """What a request is billed once it completes with an output (its model's ``billing``)."""

    units: float
    usd: float


CANCELLED = JobFailure(400, "Request was cancelled", "request_cancelled")
# No worker took the job before the start deadline its submit asked for.
START_TIMEOUT = JobFailure(504, "Request timed out", "request_timeout", timeout_type="user")


@dataclass(eq=False, slots=True)  # slots: a stored job is ~100 bytes smaller, and 100,000 may be kept
class Job:
    # What submit decides.
    id: str
    endpoint_id: str
    app_path: str  # owner/app: status, result and cancel URLs drop the subpath
    title: str
    plan: Plan  # what the body and its defaults decided: prompt, sizes, seed, count, format
    submitted_at: float
    ready_at: float  # when a free worker may pick it up
    run_seconds: float
    inputs: tuple[ResolvedInput, ...] = ()
    failure: JobFailure | None = None
    webhook_url: str | None = None
    test_id: str | None = None  # the X-Mock-Test-Id it was submitted with: later calls inherit its scenarios
    start_deadline: float | None = None  # it ends unrun if no worker takes it by then
    low_priority: bool = False  # waits behind every normal-priority job
    charge: Charge | None = None  # None: its model is not billed
    # Runner failures before the run that succeeds: each attempt fails half-way and the request waits
    # IN_QUEUE again for requeue_wait seconds (fal retries a failed runner up to 10 times).
    requeues: int = 0
    requeue_attempt: float = 0.0
    requeue_wait: float = 0.0
    gateway_ids: tuple[str, ...] = ()  # the id of each retry's attempt, in order
    retention: float = float("inf")  # seconds it is kept once finished (the queue sets it by its rules)
    file_seconds: float | None = None  # its files' lifetime, when its submit asked for one
    # A scenario's: its webhook carries payload_error, not the output (its result still answers).
    unserialisable_output: bool = False
    # Step mode: status polls, not the scheduler, write this job's timeline (see JobQueue.view).
    step_mode: bool = False
    stall_seconds: float = 0.0  # in step mode: simulated time it must spend IN_PROGRESS
    size_bytes: int = 0  # roughly what the job holds (records, prompt, input thumbnails), for the store's budget
    # The timeline, written as the job runs.
    started_at: float | None = None
    finished_at: float | None = None
    worker: int | None = None
    seq: int = -1  # its place in the scheduler's queue while it waits (-1: not waiting)
    output: Output | None = field(default=None, repr=False)  # once rendered

    def state(self, now: float) -> JobState:
        if self.finished_at is not None and self.finished_at <= now:
            return JobState.COMPLETED
        if self.started_at is not None and self.started_at <= now:
            if self.requeues and self._requeued_at(now):
                return JobState.IN_QUEUE
            return JobState.IN_PROGRESS
        return JobState.IN_QUEUE

    def _requeued_at(self, now: float) -> bool:
        """Whether ``now`` falls in a wait after a failed attempt (the job started, and is running)."""
        assert self.started_at is not None
        cycle = self.requeue_attempt + self.requeue_wait
        if cycle <= 0 or self.cancelled:
            return False
        done, into = divmod(now - self.started_at, cycle)
        return done < self.requeues and into >= self.requeue_attempt

    def attempts_failed(self, now: float) -> int:
        """How many of its runners had failed by ``now``."""
        if not self.requeues or self.started_at is None or self.started_at > now:
            return 0
        if self.finished_at is not None:
            now = min(now, self.finished_at)  # a cancel ends the attempts where it came
        cycle = self.requeue_attempt + self.requeue_wait
        if cycle <= 0:
            return self.requeues if self.finished_at is not None and self.finished_at <= now else 0
        return min(self.requeues, int((now - self.started_at - self.requeue_attempt) // cycle) + 1)

    def gateway_request_id(self, now: float) -> str:
        """The id of the attempt serving the request now: the request id until a runner fails."""
        failed = self.attempts_failed(now)
        return self.gateway_ids[failed - 1] if failed and self.gateway_ids else self.id

    @property
    def cancelled(self) -> bool:
        return self.failure is CANCELLED

    def inference_time(self) -> float | None:
        if self.started_at is None or self.finished_at is None or self.cancelled:
            return None
        return round(self.finished_at - self.started_at, 4)

    def logs(self, now: float) -> list[dict[str, Any]]:
        """The runner's log lines written up to ``now``."""
        lines: list[tuple[float, str, str]] = []
        if self.started_at is None or self.started_at > now:
            return []
        start = self.started_at
        end = self.finished_at if self.finished_at is not None else start + self.run_seconds
        lines.append((start, "INFO", f"Running {self.title} on worker {self.worker}"))
        if self.requeues and not self.cancelled:
            cycle = self.requeue_attempt + self.requeue_wait
            for retry in range(1, self.requeues + 1):
                failed_at = start + (retry - 1) * cycle + self.requeue_attempt
                message = f"Runner failed (connection lost); request re-queued, retry {retry}"
                lines.append((failed_at, "WARN", message))
                lines.append((failed_at + self.requeue_wait, "INFO", f"Running {self.title} on worker {self.worker}"))
            start += self.requeues * cycle  # progress is that of the attempt that succeeds
        if self.cancelled:
            lines.append((end, "WARN", "Request cancelled"))
        else:
            span = max(end - start, 0.0)
            for quarter in (1, 2, 3, 4):
                step = LOG_STEPS * quarter // 4
                lines.append((start + span * quarter / 4 * 0.9, "INFO", f"Denoising step {step}/{LOG_STEPS}"))
            if self.failure is not None:
                lines.append((end, "ERROR", self.failure.error))
            else:
                count = self.plan.image_count
                noun = "image" if count == 1 else "images"
                lines.append((end, "INFO", f"Generated {count} {noun} in {span:.2f} s"))
        return [_log(ts, level, msg) for ts, level, msg in lines if ts <= now]


def _log(ts: float, level: str, message: str) -> dict[str, Any]:
    return {
        "timestamp": datetime.fromtimestamp(ts, UTC).isoformat(),
        "message": message,
        "level": level,
        "source": "USER",
        "labels": {},
    }
