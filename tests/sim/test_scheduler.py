"""The queue's state machine on an injected clock: no HTTP, no sleeping."""

from __future__ import annotations

import base64
import gc

import pytest

from mockserver.config import Settings
from mockserver.http.app import retention_of
from mockserver.http.routes.files import FILE_HANDLER
from mockserver.sim.clock import ManualClock
from mockserver.sim.jobs import Job, JobState
from mockserver.sim.queue import CancelOutcome, JobQueue, QueueFull
from mockserver.spec.file_links import FileLinks
from mockserver.spec.loader import default_spec
from mockserver.spec.model_info import ModelInfo

SPEC = default_spec()


def _model(endpoint: str = "fal-ai/flux-pro/kontext/max/text-to-image") -> ModelInfo:
    op = SPEC.model(endpoint)
    assert op is not None and op.model is not None
    return op.model


def _queue(clock: ManualClock, **options: object) -> JobQueue:
    settings = Settings(**options)  # type: ignore[arg-type]
    return JobQueue(settings, clock, FileLinks.of(SPEC, FILE_HANDLER), retention_of(SPEC, settings))


def test_a_job_walks_queue_progress_completed_on_the_spec_timing(clock: ManualClock) -> None:
    model = _model()
    queue = _queue(clock)
    job = queue.submit(model, {"prompt": "p"})
    timing = model.timing
    assert queue.view(job, with_logs=False).state is JobState.IN_QUEUE
    clock.advance(timing.dispatch_seconds)
    assert queue.view(job, with_logs=False).state is JobState.IN_PROGRESS
    clock.advance(timing.inference_seconds - 0.01)
    assert queue.view(job, with_logs=False).state is JobState.IN_PROGRESS
    clock.advance(0.02)
    view = queue.view(job, with_logs=False)
    assert view.state is JobState.COMPLETED
    assert view.inference_time == pytest.approx(timing.inference_seconds)


def test_more_images_take_longer(clock: ManualClock) -> None:
    model = _model()
    queue = _queue(clock)
    one = queue.submit(model, {"prompt": "p"})
    four = queue.submit(model, {"prompt": "p", "num_images": 4})
    assert four.run_seconds == pytest.approx(one.run_seconds + 3 * model.timing.per_extra_image_seconds)


def test_time_scale_multiplies_durations_and_zero_is_immediate(clock: ManualClock) -> None:
    slow = _queue(clock, time_scale=2.0).submit(_model(), {"prompt": "p"})
    assert slow.run_seconds == pytest.approx(2 * _model().timing.inference_seconds)
    queue = _queue(clock, time_scale=0.0)
    job = queue.submit(_model(), {"prompt": "p"})
    assert queue.view(job, with_logs=False).state is JobState.COMPLETED


def test_queue_position_counts_jobs_ahead_and_only_decreases(clock: ManualClock) -> None:
    queue = _queue(clock, concurrency=1)
    jobs = [queue.submit(_model(), {"prompt": str(i)}) for i in range(4)]
    positions = [queue.view(j, with_logs=False).queue_position for j in jobs]
    # the first is picked up once dispatched; until then it waits too
    assert positions == [0, 1, 2, 3]
    last = jobs[-1]
    seen: list[int] = []
    for _ in range(40):
        clock.advance(1.0)
        view = queue.view(last, with_logs=False)
        if view.state is not JobState.IN_QUEUE:
            break
        assert view.queue_position is not None
        seen.append(view.queue_position)
    assert seen == sorted(seen, reverse=True) and seen[-1] == 0 and seen[0] > 0
    assert queue.view(last, with_logs=False).state is JobState.IN_PROGRESS


def test_a_submit_reports_the_jobs_ahead_of_it_then(clock: ManualClock) -> None:
    queue = _queue(clock, concurrency=1)
    jobs = [queue.submit(_model(), {"prompt": str(i)}) for i in range(3)]
    assert [queue.submitted_position(j) for j in jobs] == [0, 1, 2]
    while queue.view(jobs[0], with_logs=False).state is JobState.IN_QUEUE:
        clock.advance(0.25)
    late = queue.submit(_model(), {"prompt": "late"})
    assert queue.submitted_position(late) == 2  # the first has left the queue; two wait ahead
    assert queue.view(late, with_logs=False).queue_position == 2


def test_concurrency_lets_that_many_run_at_once(clock: ManualClock) -> None:
    queue = _queue(clock, concurrency=3)
    jobs = [queue.submit(_model(), {"prompt": str(i)}) for i in range(5)]
    clock.advance(1.0)
    states = [queue.view(j, with_logs=False).state for j in jobs]
    assert states.count(JobState.IN_PROGRESS) == 3
    assert states.count(JobState.IN_QUEUE) == 2
    assert queue.view(jobs[3], with_logs=False).queue_position == 0


def test_cancel_while_queued_frees_the_place(clock: ManualClock) -> None:
    queue = _queue(clock, concurrency=1)
    _, second, third = (queue.submit(_model(), {"prompt": str(i)}) for i in range(3))
    assert queue.view(third, with_logs=False).queue_position == 2
    assert queue.cancel(second) is CancelOutcome.REQUESTED
    assert queue.view(third, with_logs=False).queue_position == 1
    view = queue.view(second, with_logs=True)
    assert view.state is JobState.COMPLETED
    assert view.failure is not None and view.failure.error_type == "request_cancelled"
    assert view.inference_time is None


def test_cancel_while_running_frees_the_worker_now(clock: ManualClock) -> None:
    queue = _queue(clock, concurrency=1)
    first = queue.submit(_model(), {"prompt": "a"})
    second = queue.submit(_model(), {"prompt": "b"})
    clock.advance(1.0)
    assert queue.view(first, with_logs=False).state is JobState.IN_PROGRESS
    assert queue.cancel(first) is CancelOutcome.REQUESTED
    assert queue.view(first, with_logs=False).state is JobState.COMPLETED
    clock.advance(0.001)
    assert queue.view(second, with_logs=False).state is JobState.IN_PROGRESS


def test_cancel_after_completion_is_refused(clock: ManualClock) -> None:
    queue = _queue(clock, time_scale=0.0)
    job = queue.submit(_model(), {"prompt": "p"})
    assert queue.cancel(job) is CancelOutcome.ALREADY_COMPLETED
    assert queue.view(job, with_logs=False).failure is None


def test_logs_grow_with_time_and_are_timestamped(clock: ManualClock) -> None:
    queue = _queue(clock)
    job = queue.submit(_model(), {"prompt": "p"})
    assert queue.view(job, with_logs=True).logs == []
    assert queue.view(job, with_logs=False).logs is None
    counts = []
    for _ in range(8):
        clock.advance(1.0)
        logs = queue.view(job, with_logs=True).logs
        assert logs is not None
        counts.append(len(logs))
    assert counts == sorted(counts) and counts[0] >= 1 and counts[-1] > counts[0]
    final = queue.view(job, with_logs=True).logs
    assert final is not None
    assert final[-1]["message"].startswith("Generated 1 image")
    assert {"timestamp", "message", "level", "source", "labels"} <= set(final[0])


def test_finished_jobs_expire_after_retention(clock: ManualClock) -> None:
    queue = _queue(clock, time_scale=0.0, retention_seconds=60.0)
    job = queue.submit(_model(), {"prompt": "p"})
    clock.advance(59.0)
    assert queue.find(job.app_path, job.id) is job
    clock.advance(2.0)
    assert queue.find(job.app_path, job.id) is None


def test_expired_jobs_leave_memory_with_the_first_submit_after_their_expiry(clock: ManualClock) -> None:
    queue = _queue(clock, time_scale=0.0, retention_seconds=60.0)
    first = queue.submit(_model(), {"prompt": "first"})
    clock.advance(30.0)
    queue.submit(_model(), {"prompt": "second"})
    clock.advance(29.5)
    queue.submit(_model(), {"prompt": "third"})
    assert len(queue.jobs) == 3  # nothing is due yet
    clock.advance(1.0)  # the first is due; nothing has looked it up
    queue.submit(_model(), {"prompt": "fourth"})
    assert len(queue.jobs) == 3 and queue.jobs.get(first.id) is None
    clock.advance(30.0)  # the second is due
    queue.submit(_model(), {"prompt": "fifth"})
    assert len(queue.jobs) == 3


def test_the_byte_budget_counts_what_jobs_keep_and_refuses_past_it(clock: ManualClock) -> None:
    queue = _queue(clock, concurrency=1, max_job_bytes=20_000)  # jobs wait: none can be evicted
    prompt = "p" * 5_000
    jobs = [queue.submit(_model(), {"prompt": prompt}) for _ in range(3)]
    assert all(5_000 < j.size_bytes < 6_000 for j in jobs)
    with pytest.raises(QueueFull):
        queue.submit(_model(), {"prompt": prompt})
    assert len(queue.jobs) == 3  # the refused one left nothing behind
    short = queue.submit(_model(), {"prompt": "short"})  # what is left of the budget still takes a small one
    assert short.size_bytes < 1_000


def test_the_byte_budget_leaves_out_what_a_job_does_not_keep(clock: ManualClock) -> None:
    # An input's data URI is read at submit and not kept (only its thumbnail would be; this one
    # is not an image, so there is none): it must not count against the budget.
    uri = "data:image/png;base64," + base64.b64encode(b"not an image " * 8_000).decode()
    job = _queue(clock).submit(_model("fal-ai/flux-pro/kontext/max"), {"prompt": "edit", "image_url": uri})
    assert job.failure is not None and job.failure.error_type == "image_load_error"
    assert job.size_bytes < 1_000 < len(uri)


def test_running_jobs_do_not_expire(clock: ManualClock) -> None:
    queue = _queue(clock, retention_seconds=1.0, concurrency=1)
    jobs = [queue.submit(_model(), {"prompt": str(i)}) for i in range(3)]
    clock.advance(3.0)
    assert all(queue.find(j.app_path, j.id) is j for j in jobs)


def test_jobs_are_found_only_under_their_own_app(clock: ManualClock) -> None:
    queue = _queue(clock)
    job = queue.submit(_model(), {"prompt": "p"})
    assert job.app_path == "fal-ai/flux-pro"
    assert queue.find("fal-ai/flux-pro", job.id) is job
    assert queue.find("fal-ai/other", job.id) is None


def test_the_job_cap_evicts_the_oldest_finished(clock: ManualClock) -> None:
    queue = _queue(clock, time_scale=0.0, max_jobs=3)
    jobs = [queue.submit(_model(), {"prompt": str(i)}) for i in range(5)]
    assert len(queue.jobs) == 3
    assert queue.find(jobs[0].app_path, jobs[0].id) is None
    assert queue.find(jobs[4].app_path, jobs[4].id) is jobs[4]


def test_a_full_store_evicts_a_hundredth_of_its_cap_at_once(clock: ManualClock) -> None:
    queue = _queue(clock, time_scale=0.0, max_jobs=200)
    jobs = [queue.submit(_model(), {"prompt": str(i)}) for i in range(200)]
    assert len(queue.jobs) == 200
    jobs.append(queue.submit(_model(), {"prompt": "one over"}))
    # Two go (the two oldest), so the next submit finds room without evicting.
    assert len(queue.jobs) == 199
    assert [queue.find(j.app_path, j.id) is j for j in jobs[:3]] == [False, False, True]
    jobs.append(queue.submit(_model(), {"prompt": "fits"}))
    assert len(queue.jobs) == 200 and all(queue.find(j.app_path, j.id) is j for j in jobs[2:])


def test_jobs_dropped_behind_an_unfinished_one_are_not_kept(clock: ManualClock) -> None:
    queue = _queue(clock, step_mode=True, retention_seconds=1.0)
    stuck = queue.submit(_model(), {"prompt": "never polled"})  # stays IN_QUEUE: nothing moves it on
    for n in range(3000):
        job = queue.submit(_model(), {"prompt": str(n)})
        while queue.view(job, with_logs=False, step=True).state is not JobState.COMPLETED:
            pass
        clock.advance(2.0)
        assert queue.find(job.app_path, job.id) is None  # expired, dropped on lookup
    del job
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, Job)]
    assert stuck in alive and len(queue.jobs) == 1
    assert len(alive) < 200, f"{len(alive)} jobs still referenced"


def test_a_held_job_with_a_start_deadline_ends_at_the_deadline(clock: ManualClock) -> None:
    from mockserver.sim.decisions import JobDirectives

    queue = _queue(clock)
    job = queue.submit(_model(), {"prompt": "p"}, directives=JobDirectives(hold_seconds=60), start_timeout=5)
    clock.advance(4.9)
    assert queue.view(job, with_logs=False).state is JobState.IN_QUEUE
    clock.advance(0.2)
    view = queue.view(job, with_logs=False)
    assert view.state is JobState.COMPLETED and view.failure is not None
    assert (view.failure.status_code, view.failure.error_type, view.failure.timeout_type) == (
        504, "request_timeout", "user"
    )
    assert job.finished_at == pytest.approx(clock.now() - 0.1)  # at the deadline itself
    clock.advance(120)  # the hold's end must not bring it back
    assert queue.view(job, with_logs=False).state is JobState.COMPLETED


def test_a_step_mode_job_past_its_deadline_ends_on_the_next_poll(clock: ManualClock) -> None:
    queue = _queue(clock, step_mode=True)
    job = queue.submit(_model(), {"prompt": "p"}, start_timeout=2)
    clock.advance(3)
    queue.view(job, with_logs=False, step=True)  # reports IN_QUEUE, then steps
    view = queue.view(job, with_logs=False, step=True)
    assert view.state is JobState.COMPLETED and view.failure is not None
    assert view.failure.error_type == "request_timeout"


def test_a_ready_low_job_takes_a_worker_no_normal_job_is_ready_for(clock: ManualClock) -> None:
    model = _model()
    queue = _queue(clock, concurrency=1)
    busy = queue.submit(model, {"prompt": "busy"})
    low = queue.submit(model, {"prompt": "low"}, low_priority=True)
    assert busy.finished_at is None
    clock.advance(model.timing.dispatch_seconds)
    queue.advance()
    assert busy.finished_at is not None
    # A normal job submitted so late that it is not ready when the worker frees.
    clock.advance(busy.finished_at - clock.now() - model.timing.dispatch_seconds / 2)
    normal = queue.submit(model, {"prompt": "late"})
    assert queue.view(normal, with_logs=False).queue_position == 0
    assert queue.view(low, with_logs=False).queue_position == 1
    clock.advance(model.timing.dispatch_seconds / 2)
    assert queue.view(low, with_logs=False).state is JobState.IN_PROGRESS
    assert low.started_at == busy.finished_at  # at once, not after the late normal job
    assert queue.view(normal, with_logs=False).state is JobState.IN_QUEUE


def test_deadlines_of_jobs_that_started_in_time_are_not_kept_forever(clock: ManualClock) -> None:
    # Each waits a moment, then starts long before its day-long deadline: the heap of
    # deadlines must not hold all of them (and the jobs) for a day.
    queue = _queue(clock, time_scale=0.001, concurrency=1, max_jobs=100_000)
    model = _model()
    jobs = []
    for _ in range(5_000):
        jobs.append(queue.submit(model, {"prompt": "p"}, start_timeout=86_400))
        clock.advance(0.05)
    queue.advance()
    assert all(j.started_at is not None and j.started_at > j.submitted_at for j in jobs[:-1])  # all queued first
    scheduler = queue._scheduler
    assert len(scheduler._deadlines) <= 2 * scheduler.waiting() + 1024 + 1


def test_an_expired_head_does_not_let_a_low_job_pass_a_ready_normal_one(clock: ManualClock) -> None:
    from mockserver.sim.decisions import JobDirectives

    model = _model()
    dispatch = model.timing.dispatch_seconds
    queue = _queue(clock, concurrency=1)
    busy = queue.submit(model, {"prompt": "busy"})
    frees_at = clock.now() + dispatch + busy.run_seconds
    low = queue.submit(model, {"prompt": "low"}, low_priority=True)
    # A normal job held out of the line, to join it (ready) shortly before the worker frees.
    hold = JobDirectives(hold_seconds=busy.run_seconds - dispatch / 4)
    held = queue.submit(model, {"prompt": "held"}, directives=hold)
    # Ahead of it, a job that is not ready when the worker frees and whose deadline passes before.
    clock.advance(frees_at - dispatch / 2 - clock.now())
    doomed = queue.submit(model, {"prompt": "doomed"}, start_timeout=dispatch / 4)
    clock.advance(10)
    queue.advance()
    assert doomed.failure is not None and doomed.failure.error_type == "request_timeout"
    assert held.started_at == pytest.approx(frees_at)  # the ready normal job takes the worker
    assert held.finished_at is not None
    assert low.started_at is None or low.started_at >= held.finished_at
