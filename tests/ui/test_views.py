"""The dashboard's views and live feed, read from a real mock's stores after real requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.sim.stopping import Stopping
from mockserver.testing import MockServer
from mockserver.ui import live, views
from tests.helpers import EDIT, TEXT, data_uri


@pytest.fixture
def server(clock: ManualClock) -> Iterator[MockServer]:
    with MockServer(clock=clock, concurrency=1) as mock:
        yield mock


def _url(file_id: str, name: str) -> str:
    return f"/files/{file_id}/{name}"


def _submit(client: httpx.Client, prompt: str, **headers: str) -> str:
    answer = client.post(f"/{TEXT}", json={"prompt": prompt, "seed": 1}, headers=headers)
    assert answer.status_code == 200, answer.text
    request_id: str = answer.json()["request_id"]
    return request_id


def test_jobs_newest_first_with_states_positions_and_pages(server: MockServer, clock: ManualClock) -> None:
    queue = server.context.queue
    with httpx.Client(base_url=server.url) as client:
        ids = [_submit(client, f"prompt {n}") for n in range(3)]
        first = views.jobs_view(queue, _url, page=1, size=2)
        assert [row.id for row in first.rows] == [ids[2], ids[1]]
        assert first.pager.has_next and first.pager.total == 3
        # One worker: the oldest runs once dispatched, the two others wait behind it.
        clock.advance(1.0)
        rows = views.jobs_view(queue, _url, page=1, size=50).rows
        assert [(r.state, r.queue_position) for r in rows] == [
            ("IN_QUEUE", 1), ("IN_QUEUE", 0), ("IN_PROGRESS", None)
        ]
        assert rows[0].prompt == "prompt 2" and rows[2].started != "–" and rows[2].finished == "–"
        second = views.jobs_view(queue, _url, page=2, size=2)
        assert [row.id for row in second.rows] == [ids[0]] and not second.pager.has_next
        assert views.jobs_view(queue, _url, page=9, size=2).rows == []
        waiting = views.jobs_view(queue, _url, page=1, size=50, state="IN_QUEUE")
        assert [row.id for row in waiting.rows] == [ids[2], ids[1]] and waiting.pager.total is None


def test_a_completed_job_shows_its_first_image_once_rendered(server: MockServer, clock: ManualClock) -> None:
    queue = server.context.queue
    with httpx.Client(base_url=server.url) as client:
        request_id = _submit(client, "a lighthouse")
        clock.advance(60)
        (row,) = views.jobs_view(queue, _url, page=1, size=50).rows
        assert row.state == "COMPLETED" and row.thumbnail is None  # nobody fetched the result yet
        assert row.awaiting_result
        images = client.get(f"/fal-ai/flux-pro/requests/{request_id}").json()["images"]
        (row,) = views.jobs_view(queue, _url, page=1, size=50).rows
        assert row.thumbnail is not None and images[0]["url"].endswith(row.thumbnail)
        assert not row.awaiting_result


def test_filter_by_test_id(server: MockServer) -> None:
    header = server.test_id_header
    with httpx.Client(base_url=server.url) as client:
        mine = _submit(client, "mine", **{header: "t-1"})
        _submit(client, "theirs", **{header: "t-2"})
    rows = views.jobs_view(server.context.queue, _url, page=1, size=50, test_id="t-1").rows
    assert [row.id for row in rows] == [mine] and rows[0].test_id == "t-1"


def test_job_detail_has_the_body_shortened_the_timeline_logs_and_requests(
    server: MockServer, clock: ManualClock
) -> None:
    ctx = server.context
    image = data_uri((300, 300))
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(f"/{EDIT}", json={"prompt": "an edit", "image_url": image})
        request_id = answer.json()["request_id"]
        clock.advance(60)
        client.get(f"/fal-ai/flux-pro/requests/{request_id}/status")
        client.get(f"/fal-ai/flux-pro/requests/{request_id}")
    job = ctx.queue.jobs.get(request_id)
    assert job is not None
    detail = views.job_detail(ctx.queue, ctx.journal, job, _url, limit=100)
    assert detail.body["prompt"] == "an edit"
    assert len(detail.body["image_url"]) < 100 < len(image)  # the data URI, cut as the journal keeps it
    assert [step.state for step in detail.steps] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert any("Generated 1 image" in line["message"] for line in detail.logs)
    assert [entry.method for entry in detail.requests] == ["GET", "GET", "POST"]  # newest first
    assert [image.width for image in detail.images] == [job.plan.width]


def test_journal_newest_first_violations_only_and_pages(server: MockServer) -> None:
    journal = server.context.journal
    with httpx.Client(base_url=server.url) as client:
        for n in range(3):
            _submit(client, f"ok {n}")
        client.post(f"/{EDIT}", json={"prompt": "no image"})  # image_url missing: a 422
    view = views.journal_view(journal, page=1, size=3)
    assert [e.seq for e in view.entries] == [4, 3, 2] and view.pager.has_next and view.pager.total == 4
    assert [e.seq for e in views.journal_view(journal, page=2, size=3).entries] == [1]
    assert views.journal_view(journal, page=5, size=3).entries == []
    bad = views.journal_view(journal, page=1, size=50, only_violations=True).entries
    assert [e.status for e in bad] == [422]
    assert bad[0].violations[0].rule == "schema.value_error.missing"


def test_step_mode_lists_the_steps_a_poll_will_take(clock: ManualClock) -> None:
    with MockServer(clock=clock, step_mode=True) as server, httpx.Client(base_url=server.url) as client:
        request_id = _submit(client, "stepwise")
        queue = server.context.queue
        (pending,) = views.pending_steps(queue, 50)
        assert (pending.id, pending.state, pending.next_state) == (request_id, "IN_QUEUE", "IN_PROGRESS")
        for _ in range(3):
            client.get(f"/fal-ai/flux-pro/requests/{request_id}/status")
        assert views.pending_steps(queue, 50) == []


def test_the_jobs_mark_moves_when_a_job_is_added_or_moves_on(server: MockServer, clock: ManualClock) -> None:
    queue = server.context.queue
    empty = views.jobs_mark(queue)
    assert views.jobs_mark(queue) == empty
    with httpx.Client(base_url=server.url) as client:
        _submit(client, "one")
    queued = views.jobs_mark(queue)
    assert queued != empty and views.jobs_mark(queue) == queued
    clock.advance(1.0)  # dispatched: IN_PROGRESS
    assert views.jobs_mark(queue) != queued
    assert views.jobs_mark(queue, 5.0) != views.jobs_mark(queue, 0.0)  # the clock was moved


def test_the_feed_says_each_change_once_and_ends_when_the_server_stops() -> None:
    marks = [live.Marks(1, "a"), live.Marks(1, "a"), live.Marks(2, "a"), live.Marks(2, "a")]
    stopping = Stopping()
    said: list[str] = []

    def current() -> live.Marks:
        if len(marks) == 1:
            stopping.set()
        return marks.pop(0) if len(marks) > 1 else marks[0]

    async def read() -> None:
        async for event in live.changes(live.Marks(1, "a"), current, stopping, interval=0.001):
            said.append(event)

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever else this process runs
        pool.submit(asyncio.run, asyncio.wait_for(read(), 5)).result()
    assert said[0].startswith("retry:")
    assert said[1:] == ['event: change\ndata: {"since": 2, "jobs": "a"}\n\n']


def test_clock_text_is_utc_to_the_millisecond() -> None:
    assert views.clock_text(1_767_225_600.25) == "2026-01-01 00:00:00.250"
    assert views.clock_text(None) == "–"
