"""The queue: what a submit, a status poll, a cancel and a result do.

This is the domain's front door. It knows nothing of HTTP: callers hand it a
validated body and get back jobs, status views and outputs; the HTTP layer
turns those into fal's JSON and URLs.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mockserver import generation
from mockserver.clock import Clock
from mockserver.config import Settings
from mockserver.generation import Output, RenderedImage
from mockserver.inputs import Limits, ResolvedInput, resolve
from mockserver.jobs import CANCELLED, Job, JobFailure, JobState
from mockserver.scheduler import Scheduler
from mockserver.spec import ModelInfo
from mockserver.storage import FileStore, JobStore
from mockserver.validation import Issue

# A job whose inputs cannot be loaded fails early in the run, as the real model does.
FAILED_RUN_SECONDS = 0.5


class CancelOutcome(enum.Enum):
    REQUESTED = "CANCELLATION_REQUESTED"
    ALREADY_COMPLETED = "ALREADY_COMPLETED"


@dataclass(frozen=True)
class StatusView:
    state: JobState
    queue_position: int | None
    logs: list[dict[str, Any]] | None
    inference_time: float | None
    failure: JobFailure | None


class JobQueue:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.files = FileStore(clock, settings.max_file_bytes, settings.retention_seconds)
        self.jobs = JobStore(clock, settings.retention_seconds, settings.max_jobs)
        self._scheduler = Scheduler(settings.concurrency)
        self._seq = itertools.count()
        self._limits = Limits(settings.max_input_bytes, settings.max_input_pixels)
        self._rendering: dict[str, asyncio.Future[Output]] = {}

    # ---- commands ----------------------------------------------------------

    def submit(self, model: ModelInfo, body: Mapping[str, Any], *, webhook_url: str | None = None) -> Job:
        now = self.clock.now()
        payload = generation.with_defaults(model, body)
        inputs = tuple(self._resolve(label, url) for label, url in generation.image_inputs(model, payload))
        failure = _input_failure(inputs)
        plan = generation.make_plan(model, payload, generation.choose_seed(model, payload), inputs)
        scale = self.settings.time_scale
        run = FAILED_RUN_SECONDS if failure else model.timing.inference_for(plan.count)
        job = Job(
            id=str(uuid.uuid4()),
            endpoint_id=model.endpoint_id,
            app_path="/".join(model.endpoint_id.split("/")[:2]),
            title=model.title,
            payload=payload,
            plan=plan,
            submitted_at=now,
            ready_at=now + model.timing.dispatch_seconds * scale,
            run_seconds=run * scale,
            seq=next(self._seq),
            inputs=inputs,
            failure=failure,
            webhook_url=webhook_url,
        )
        self.jobs.add(job)
        self._scheduler.enqueue(job)
        self._scheduler.advance(now)
        return job

    def cancel(self, job: Job) -> CancelOutcome:
        now = self.advance()
        if job.state(now) is JobState.COMPLETED:
            return CancelOutcome.ALREADY_COMPLETED
        self._scheduler.withdraw(job, now)
        job.failure = CANCELLED
        if job.started_at is None:
            job.started_at = now
        job.finished_at = now
        return CancelOutcome.REQUESTED

    # ---- queries -----------------------------------------------------------

    def advance(self) -> float:
        now = self.clock.now()
        self._scheduler.advance(now)
        return now

    def find(self, app_path: str, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.app_path != app_path:
            return None
        return job

    def view(self, job: Job, *, with_logs: bool) -> StatusView:
        now = self.advance()
        state = job.state(now)
        done = state is JobState.COMPLETED
        return StatusView(
            state=state,
            queue_position=self._scheduler.position(job) if state is JobState.IN_QUEUE else None,
            logs=job.logs(now) if with_logs else None,
            inference_time=job.inference_time() if done else None,
            failure=job.failure if done else None,
        )

    async def wait(self, job: Job, poll_seconds: float = 0.01) -> None:
        """Return once the job has completed (by the injected clock)."""
        while True:
            now = self.advance()
            if job.state(now) is JobState.COMPLETED:
                return
            await asyncio.sleep(poll_seconds)

    async def output(self, job: Job) -> Output:
        """The job's images, rendered once (off the event loop) and then reused."""
        if job.output is not None:
            return job.output
        pending = self._rendering.get(job.id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._rendering[job.id] = pending
            try:
                output = await self._render(job)
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # mark retrieved: other waiters may not exist
                raise
            finally:
                self._rendering.pop(job.id, None)
            job.output = output
            pending.set_result(output)
            return output
        return await asyncio.shield(pending)

    # ---- internals ---------------------------------------------------------

    def _resolve(self, label: str, url: str) -> ResolvedInput:
        def lookup(file_id: str) -> bytes | None:
            stored = self.files.get(file_id)
            return stored.data if stored else None

        return resolve(label, url, self._limits, lookup)

    async def _render(self, job: Job) -> Output:
        model_plan = job.plan
        blobs = await asyncio.to_thread(generation.render_images, model_plan, job.inputs)
        images = []
        for index, data in enumerate(blobs):
            name = generation.file_name(model_plan, index)
            common: dict[str, Any] = {
                "width": model_plan.width,
                "height": model_plan.height,
                "content_type": model_plan.content_type,
                "file_name": name,
                "file_size": len(data),
            }
            if model_plan.data_uris:
                images.append(RenderedImage(**common, data_uri=generation.data_uri(model_plan.content_type, data)))
            else:
                ttl = max(self._expires_at(job) - self.clock.now(), 1.0)
                file_id = self.files.put(data, model_plan.content_type, name, ttl)
                images.append(RenderedImage(**common, file_id=file_id))
        return Output(tuple(images), model_plan.seed, model_plan.prompt, job.inference_time() or 0.0)

    def _expires_at(self, job: Job) -> float:
        return (job.finished_at or self.clock.now()) + self.settings.retention_seconds


def _input_failure(inputs: tuple[ResolvedInput, ...]) -> JobFailure | None:
    issues = tuple(
        Issue(("body", *_label_loc(i.label)), i.error, "image_load_error") for i in inputs if i.error is not None
    )
    if not issues:
        return None
    return JobFailure(422, issues[0].msg, "image_load_error", issues)


def _label_loc(label: str) -> tuple[str | int, ...]:
    name, _, rest = label.partition("[")
    return (name, int(rest.rstrip("]"))) if rest else (name,)
