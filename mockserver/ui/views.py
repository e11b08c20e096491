"""What the dashboard shows, as plain data read from the stores the mock already has.

Nothing here keeps a copy: each view reads the job store, the journal, the
scenario book and the clock when a page is asked for, and pages are bounded
(``page_size`` rows). Nothing here knows HTTP or templates: the routes in
``http/routes/dashboard.py`` hand these views to the templates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mockserver.kit.journal import Entry, Journal, Query
from mockserver.sim.jobs import Job, JobState
from mockserver.sim.queue import JobQueue
from mockserver.sim.scenarios import ScenarioBook

FileUrl = Callable[[str, str], str]  # (file id, file name) -> the URL it is served at
# How many of the newest jobs the live feed watches for a change of state.
WATCHED_JOBS = 50
# Jobs looked at to find those step mode still moves on: the newest, at most this many.
STEP_SCAN = 5_000


def clock_text(at: float | None) -> str:
    """A time on the mock's clock as people read it (UTC, to the millisecond)."""
    if at is None:
        return "–"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass(frozen=True)
class Pager:
    """One page of a list: which rows it holds and whether others follow."""

    page: int
    size: int
    has_next: bool
    total: int | None = None  # None when counting would mean reading everything

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True)
class JobRow:
    id: str
    endpoint: str
    state: str
    queue_position: int | None
    submitted: str
    started: str
    finished: str
    prompt: str
    test_id: str | None
    thumbnail: str | None  # the first image's URL (a data URI in sync mode) once rendered
    failed: str | None  # the error a finished job ended with
    awaiting_result: bool  # completed with an output nobody has fetched yet, so nothing is drawn


@dataclass(frozen=True)
class JobsView:
    rows: list[JobRow]
    pager: Pager
    state: str | None
    test_id: str | None


def _position(queue: JobQueue, job: Job, state: JobState) -> int | None:
    return queue.view(job, with_logs=False).queue_position if state is JobState.IN_QUEUE else None


def _thumbnail(job: Job, file_url: FileUrl) -> str | None:
    if job.output is None or not job.output.images:
        return None
    return job.output.images[0].url(file_url)


def job_row(queue: JobQueue, job: Job, now: float, file_url: FileUrl) -> JobRow:
    state = job.state(now)
    done = state is JobState.COMPLETED
    thumbnail = _thumbnail(job, file_url) if done else None
    return JobRow(
        id=job.id,
        endpoint=job.endpoint_id,
        state=state.value,
        queue_position=_position(queue, job, state),
        submitted=clock_text(job.submitted_at),
        started=clock_text(job.started_at if job.started_at is not None and job.started_at <= now else None),
        finished=clock_text(job.finished_at if done else None),
        prompt=job.plan.prompt,
        test_id=job.test_id,
        thumbnail=thumbnail,
        failed=job.failure.error if done and job.failure is not None else None,
        awaiting_result=done and job.failure is None and thumbnail is None,
    )


def _page(items: Iterable[Any], page: int, size: int) -> tuple[list[Any], bool]:
    """Rows of page ``page`` (from 1) and whether a row follows, reading no further than that."""
    start, more = (page - 1) * size, False
    rows: list[Any] = []
    for index, item in enumerate(items):
        if index < start:
            continue
        if len(rows) == size:
            more = True
            break
        rows.append(item)
    return rows, more


def jobs_view(
    queue: JobQueue, file_url: FileUrl, *, page: int, size: int, state: str | None = None, test_id: str | None = None
) -> JobsView:
    now = queue.advance()
    wanted = JobState(state) if state else None

    def chosen() -> Iterator[Job]:
        for job in queue.jobs.newest():
            if (test_id is None or job.test_id == test_id) and (wanted is None or job.state(now) is wanted):
                yield job

    jobs, more = _page(chosen(), page, size)
    rows = [job_row(queue, job, now, file_url) for job in jobs]
    return JobsView(rows, Pager(page, size, more, len(queue.jobs) if not (wanted or test_id) else None), state, test_id)


@dataclass(frozen=True)
class Step:
    state: str
    at: str


@dataclass(frozen=True)
class ImageView:
    url: str
    width: int
    height: int
    content_type: str
    name: str


@dataclass
class JobDetail:
    row: JobRow
    title: str
    seed: int
    steps: list[Step]
    logs: list[dict[str, Any]]
    body: Any  # the submit's body as the journal summarised it; None when the journal no longer has it
    requests: list[Entry]  # journal entries about this job, newest first
    images: list[ImageView] = field(default_factory=list)
    result: Any = None
    result_status: int | None = None
    webhook: Any = None  # its delivery record, when it asked for a webhook
    step_mode: bool = False


def _timeline(job: Job, now: float) -> list[Step]:
    steps = [Step(JobState.IN_QUEUE.value, clock_text(job.submitted_at))]
    started = job.started_at
    if started is not None and started <= now:
        steps.append(Step(JobState.IN_PROGRESS.value, clock_text(started)))
        cycle = job.requeue_attempt + job.requeue_wait
        for retry in range(job.attempts_failed(now)):
            failed_at = started + retry * cycle + job.requeue_attempt
            steps.append(Step(JobState.IN_QUEUE.value, clock_text(failed_at)))
            steps.append(Step(JobState.IN_PROGRESS.value, clock_text(failed_at + job.requeue_wait)))
    if job.state(now) is JobState.COMPLETED:
        steps.append(Step(JobState.COMPLETED.value, clock_text(job.finished_at)))
    return steps


def about_job(journal: Journal, job_id: str, limit: int) -> list[Entry]:
    """The journal's entries naming this request id, newest first (at most ``limit``)."""
    entries, _ = journal.read(Query(limit=journal_bound(journal)))
    found = [e for e in reversed(entries) if e.request_id == job_id]
    return found[:limit]


def journal_bound(journal: Journal) -> int:
    """Enough to read every entry the journal keeps."""
    return max(journal.last_seq, 1)


def job_detail(
    queue: JobQueue, journal: Journal, job: Job, file_url: FileUrl, *, limit: int, webhook: Any = None
) -> JobDetail:
    now = queue.advance()
    requests = about_job(journal, job.id, limit)
    # The submit is the oldest request that names it; a journal that dropped it shows no body.
    first = requests[-1] if requests else None
    body = first.body if first is not None and first.method == "POST" else None
    detail = JobDetail(
        row=job_row(queue, job, now, file_url),
        title=job.title,
        seed=job.plan.seed,
        steps=_timeline(job, now),
        logs=job.logs(now),
        body=body,
        requests=requests,
        webhook=webhook,
        step_mode=job.step_mode,
    )
    if job.output is not None:
        detail.images = [
            ImageView(i.url(file_url), i.width, i.height, i.content_type, i.file_name) for i in job.output.images
        ]
    return detail


@dataclass(frozen=True)
class JournalView:
    entries: list[Entry]
    pager: Pager
    test_id: str | None
    only_violations: bool


def journal_view(
    journal: Journal, *, page: int, size: int, test_id: str | None = None, only_violations: bool = False
) -> JournalView:
    """The journal newest first: the page counted back from its end."""
    query = Query(test_id=test_id, only_violations=only_violations, limit=0)
    _, total = journal.read(query)
    end = max(total - (page - 1) * size, 0)
    start = max(end - size, 0)
    entries, _ = journal.read(Query(test_id=test_id, only_violations=only_violations, offset=start, limit=end - start))
    return JournalView(list(reversed(entries)), Pager(page, size, start > 0, total), test_id, only_violations)


@dataclass(frozen=True)
class PendingStep:
    id: str
    endpoint: str
    state: str
    next_state: str


@dataclass(frozen=True)
class ScenariosView:
    rules: list[dict[str, Any]]
    test_id: str | None
    now: str
    offset: float | None  # None: the clock cannot be moved
    step_mode: bool
    pending_steps: list[PendingStep]


_NEXT = {JobState.IN_QUEUE: JobState.IN_PROGRESS, JobState.IN_PROGRESS: JobState.COMPLETED}


def pending_steps(queue: JobQueue, limit: int, test_id: str | None = None) -> list[PendingStep]:
    """Step-mode jobs a poll still moves on (among the newest :data:`STEP_SCAN`), newest first."""
    now = queue.advance()
    found: list[PendingStep] = []
    for seen, job in enumerate(queue.jobs.newest()):
        if seen >= STEP_SCAN or len(found) >= limit:
            break
        if not job.step_mode or (test_id is not None and job.test_id != test_id):
            continue
        state = job.state(now)
        if state is not JobState.COMPLETED:
            found.append(PendingStep(job.id, job.endpoint_id, state.value, _NEXT[state].value))
    return found


def scenarios_view(
    book: ScenarioBook, queue: JobQueue, *, offset: float | None, step_mode: bool, limit: int, test_id: str | None
) -> ScenariosView:
    now = queue.advance()
    return ScenariosView(
        rules=book.listing(test_id),
        test_id=test_id,
        now=clock_text(now),
        offset=offset,
        step_mode=step_mode,
        pending_steps=pending_steps(queue, limit, test_id),
    )


def jobs_mark(queue: JobQueue, clock_offset: float | None = None) -> str:
    """A short digest of the newest jobs' states (and the clock's offset): it changes when a job
    is added or moves on, or the clock is moved."""
    now = queue.advance()
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{len(queue.jobs)}/{clock_offset};".encode())
    for index, job in enumerate(queue.jobs.newest()):
        if index >= WATCHED_JOBS:
            break
        digest.update(f"{job.id}:{job.state(now).value};".encode())
    return digest.hexdigest()
