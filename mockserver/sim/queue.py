"""The queue: what a submit, a status poll, a cancel and a result do.

This is the domain's front door. It knows nothing of HTTP: callers hand it a
validated body and get back jobs, status views and outputs; the HTTP layer
turns those into fal's JSON and URLs.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mockserver.config import Settings
from mockserver.sim import generation, ids
from mockserver.sim.account import Account
from mockserver.sim.clock import Clock
from mockserver.sim.decisions import JobDirectives
from mockserver.sim.disk_space import DiskSpace
from mockserver.sim.fetch import Fetched, prefetch
from mockserver.sim.generation import Output, RenderedImage
from mockserver.sim.inputs import DECODED_INPUTS, Limits, ResolvedInput, resolve
from mockserver.sim.jobs import CANCELLED, START_TIMEOUT, Charge, Job, JobFailure, JobState
from mockserver.sim.scheduler import Scheduler
from mockserver.sim.stopping import ServerStopping, Stopping
from mockserver.sim.stores import FileStore, JobStore, Retention
from mockserver.spec.file_links import FileLinks
from mockserver.spec.model_info import ModelInfo
from mockserver.spec.validation import Issue

# What a result holds beside its images' data URIs (their sizes, seed, prompt, timings), roughly.
_RESULT_OVERHEAD = 512
# A job whose inputs cannot be loaded fails early in the run, as the real model does.
FAILED_RUN_SECONDS = 0.5


class QueueFull(Exception):
    """The store is full of unfinished jobs: new work must wait (the caller says 429)."""

    def __init__(self, jobs: int) -> None:
        super().__init__(f"the mock holds {jobs} unfinished requests; retry later")
        self.jobs = jobs


class CancelOutcome(enum.Enum):
    REQUESTED = "CANCELLATION_REQUESTED"
    ALREADY_COMPLETED = "ALREADY_COMPLETED"


@dataclass(slots=True)
class StatusView:
    """A job's status at one moment."""

    state: JobState
    queue_position: int | None
    logs: list[dict[str, Any]] | None
    inference_time: float | None
    failure: JobFailure | None


class JobQueue:
    def __init__(self, settings: Settings, clock: Clock, links: FileLinks, retention: Retention) -> None:
        self.settings = settings
        self.clock = clock
        self.links = links  # where stored files are served, so inputs naming one are read from the store
        self.retention = retention
        disk = DiskSpace(settings.upload_dir, settings.max_disk_bytes)  # large uploads
        self.files = FileStore(clock, settings.max_file_bytes, retention.seconds, disk)
        self.jobs = JobStore(clock, retention.shortest, settings.max_jobs, settings.max_job_bytes)
        self._scheduler = Scheduler(settings.concurrency)
        self._limits = Limits(settings.max_input_bytes, settings.max_input_pixels)
        self._rendering: dict[str, asyncio.Future[Output]] = {}
        self.stopping = Stopping()  # set when the server begins to stop: waits for jobs end then
        self.account = Account(settings.balance)

    # ---- commands ----------------------------------------------------------

    def submit(
        self,
        model: ModelInfo,
        body: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        fetched: Mapping[str, Fetched] | None = None,
        test_id: str | None = None,
        directives: JobDirectives | None = None,
        start_timeout: float | None = None,
        low_priority: bool = False,
        file_seconds: float | None = None,
    ) -> Job:
        """Create a job. ``directives`` (what the scenario rules decided for the request)
        may put it in step mode, hold it IN_QUEUE or IN_PROGRESS longer, or make it fail;
        ``test_id`` ties later calls about the job to the same test's rules.
        ``start_timeout``: seconds of the mock's clock (not scaled) a worker has to take it,
        else it ends unrun; ``low_priority``: it waits behind every normal job; ``file_seconds``:
        how long its files are kept (by default, as long as the job)."""
        now = self.clock.now()
        self.check_balance(model)
        directives = directives or _NO_DIRECTIVES
        # What the job will hold before its input thumbnails: its records and its prompt (in
        # its plan). The rest of the body, data URIs included, is not kept.
        prompt = body.get(*model.roles.prompt) if model.roles.prompt else None
        size = _JOB_OVERHEAD + len(prompt) if isinstance(prompt, str) else _JOB_OVERHEAD
        if not self.jobs.has_room(size, now):
            raise QueueFull(len(self.jobs))
        refs = generation.image_inputs(model, body) if model.roles.image_input else ()
        inputs: tuple[ResolvedInput, ...] = ()
        failure = directives.failure
        if refs:
            inputs = tuple(
                self._resolve(label, url, fetched, decode=n < DECODED_INPUTS) for n, (label, url) in enumerate(refs)
            )
            size += sum(i.image.width * i.image.height * len(i.image.getbands()) for i in inputs if i.image)
            failure = _input_failure(inputs) or failure
        plan = generation.make_plan(model, body, inputs)
        plan.flagged = directives.flagged
        scale = self.settings.time_scale
        run = FAILED_RUN_SECONDS if failure and failure.issues else model.timing.inference_for(plan.image_count)
        step = self.settings.step_mode or directives.step
        delay = 0.0 if step else model.timing.dispatch_seconds * scale
        run_seconds = run * scale + (0.0 if step else directives.stall_seconds)
        # A failed runner is retried: each failed attempt runs half the model's time, then the
        # request waits a dispatch IN_QUEUE again (step mode has no timeline to fail in).
        requeues = 0 if step else directives.requeues
        attempt, wait = run * scale / 2, model.timing.dispatch_seconds * scale
        run_seconds += requeues * (attempt + wait)
        job = Job(
            id=ids.uuid4(),
            endpoint_id=model.endpoint_id,
            app_path=model.app_path,
            title=model.title,
            plan=plan,
            submitted_at=now,
            # With time scale 0 these share one float object rather than each holding a new
            # one: 100,000 stored jobs keep ~5 MB less.
            ready_at=now + delay if delay else now,
            run_seconds=run_seconds or 0.0,
            inputs=inputs,
            failure=failure,
            webhook_url=webhook_url,
            test_id=test_id,
            step_mode=step,
            stall_seconds=directives.stall_seconds if step else 0.0,
            size_bytes=size,
            start_deadline=None if start_timeout is None else now + start_timeout,
            low_priority=low_priority,
            charge=_charge(model, plan.image_count),
            # Until its output is made and measured (_render): a result with data URIs is far over
            # the size past which fal keeps results for less, one with file URLs or an error far under.
            retention=self.retention.for_result(large=plan.data_uris and failure is None),
            file_seconds=file_seconds,
            requeues=requeues,
            requeue_attempt=attempt if requeues else 0.0,
            requeue_wait=wait if requeues else 0.0,
            gateway_ids=tuple(ids.uuid4() for _ in range(requeues)) if requeues else (),
            unserialisable_output=directives.unserialisable_output,
        )
        self.jobs.add(job)
        self.account.track(job)
        # The queue first catches up to now, so the new job goes behind exactly the jobs
        # still waiting then (and straight to a worker if there are none and one is free).
        if step:
            self._scheduler.advance(now)
            job.ready_at += directives.hold_seconds  # polls move it on once the hold is over
        elif directives.hold_seconds > 0:
            self._scheduler.advance(now)
            self._scheduler.hold(job, job.ready_at + directives.hold_seconds, now)
        else:
            self._scheduler.admit(job, now)
        return job

    def check_balance(self, model: ModelInfo) -> None:
        """Raise :class:`BalanceExhausted` if a request for ``model`` would be refused for want of credit.
        The HTTP layer asks before it reads a body, as fal's gateway refuses a locked account first."""
        if model.billing is not None and self.account.enabled:
            now = self.clock.now()
            self._scheduler.advance(now)  # jobs done by now are charged before the balance is read
            self.account.admit(now)

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

    def is_done(self, job: Job) -> bool:
        return job.state(self.advance()) is JobState.COMPLETED

    def find(self, app_path: str, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.app_path != app_path:
            return None
        return job

    def submitted_position(self, job: Job) -> int:
        """How many jobs are ahead of a job just submitted (0 if it left the queue at once).
        Asked right after :meth:`submit`, which has just replayed the queue to that moment."""
        started = job.started_at
        if (started is not None and started <= job.submitted_at) or job.step_mode:
            return 0  # went straight to a worker (or a step-mode job, always first in line)
        return self._scheduler.position(job)

    def _position(self, job: Job, state: JobState) -> int | None:
        if state is not JobState.IN_QUEUE:
            return None
        # A re-queued request keeps its worker's place: it is next.
        return 0 if job.step_mode or (job.requeues and job.started_at is not None) else self._scheduler.position(job)

    def view(self, job: Job, *, with_logs: bool, step: bool = False) -> StatusView:
        """The job's status now. ``step``: this is a client's poll, which moves a
        step-mode job on by one state *after* it is reported."""
        now = self.advance()
        state = job.state(now)
        done = state is JobState.COMPLETED
        view = StatusView(
            state=state,
            queue_position=self._position(job, state),
            logs=job.logs(now) if with_logs else None,
            inference_time=job.inference_time() if done else None,
            failure=job.failure if done else None,
        )
        if step and job.step_mode:
            self._step(job, now)
        return view

    def _step(self, job: Job, now: float) -> None:
        # Step mode writes the timeline as it goes: the next state starts "now",
        # unless a scenario holds the job in its current state a while longer.
        state = job.state(now)
        deadline = job.start_deadline
        if state is JobState.IN_QUEUE and deadline is not None and now >= deadline:
            job.failure, job.finished_at = START_TIMEOUT, deadline
        elif state is JobState.IN_QUEUE and now >= job.ready_at:
            job.started_at, job.worker = now, 0
        elif state is JobState.IN_PROGRESS and job.started_at is not None and now >= job.started_at + job.stall_seconds:
            job.finished_at = now

    async def wait(self, job: Job, poll_seconds: float = 0.01) -> None:
        """Return once the job has completed (by the injected clock).

        Raises :class:`ServerStopping` if the server begins to stop first.
        """
        while True:
            now = self.advance()
            if job.state(now) is JobState.COMPLETED:
                return
            if job.step_mode:  # nobody polls a synchronous run: step it here
                before = job.state(now)
                self._step(job, now)
                if job.state(now) is not before:
                    continue
            if await self.stopping.sleep(poll_seconds):
                raise ServerStopping

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

    @property
    def fetches(self) -> bool:
        """Whether any input may be fetched (a host was allowed): else :meth:`prefetch` has nothing to do."""
        return bool(self.settings.fetch_hosts)

    async def prefetch(self, model: ModelInfo, body: Mapping[str, Any]) -> dict[str, Fetched]:
        """Fetch the request's remote inputs from allowed hosts (none by default)."""
        if not self.settings.fetch_hosts:
            return {}
        urls = [url for _, url in generation.image_inputs(model, body)]
        return await prefetch(urls, self.settings.fetch_hosts, self.settings.max_input_bytes, self.stopping)

    def _resolve(
        self, label: str, url: str, fetched: Mapping[str, Fetched] | None, *, decode: bool
    ) -> ResolvedInput:
        def lookup(file_id: str) -> bytes | None:
            stored = self.files.get(file_id)
            # One byte past the input limit is enough to refuse a larger file without reading it all.
            return stored.read(self._limits.max_bytes + 1) if stored else None

        return resolve(label, url, self._limits, self.links.file_id_in, lookup, fetched, decode=decode)

    async def _render(self, job: Job) -> Output:
        model_plan = job.plan
        blobs = await asyncio.to_thread(generation.render_images, model_plan, job.inputs)
        images = []
        for index, data in enumerate(blobs):
            name = generation.file_name(model_plan, index)
            image = RenderedImage(model_plan.width, model_plan.height, model_plan.content_type, name, len(data))
            if model_plan.data_uris:
                image = replace(image, data_uri=generation.data_uri(model_plan.content_type, data))
            else:
                ttl = job.file_seconds if job.file_seconds is not None else self._expires_at(job) - self.clock.now()
                ttl = max(ttl, 1.0)
                image = replace(image, file_id=self.files.put(data, model_plan.content_type, name, ttl))
            images.append(image)
        # The result's size decides how long fal keeps it: its data URIs, and a few hundred bytes more.
        job.retention = self.retention.for_size(sum(len(image.data_uri or "") for image in images) + _RESULT_OVERHEAD)
        return Output(
            tuple(images), model_plan.seed, model_plan.prompt, job.inference_time() or 0.0, model_plan.flagged
        )

    def _expires_at(self, job: Job) -> float:
        return (job.finished_at or self.clock.now()) + job.retention


def _charge(model: ModelInfo, image_count: int) -> Charge | None:
    if model.billing is None:
        return None
    units = model.billing.units_for(image_count)
    return Charge(units, units * model.billing.unit_price_usd)


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


_NO_DIRECTIVES = JobDirectives()
_JOB_OVERHEAD = 600  # the Job, its plan, id and store entries, measured at ~550 bytes
