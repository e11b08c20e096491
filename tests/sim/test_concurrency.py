"""1,000 concurrent clients: no job lost, no id given twice, only legal transitions."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer

CLIENTS = 1000
LANES = 10  # HTTP clients the 1,000 share, each with Lane.CONNECTIONS connections
ORDER = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}
PATHS = [
    "/fal-ai/flux-pro/kontext/max/text-to-image",
    "/fal-ai/flux-pro/kontext/text-to-image",
]


class Rounds:
    """Moves the clock one step once every unfinished client has polled since the last step.

    Time is tied to the clients' polls, not to the wall clock, so every client
    sees every step however slow the machine is.
    """

    STEP_SECONDS = 80.0  # simulated: ~120 jobs finish on each step, eight always running at its end

    def __init__(self, clock: ManualClock, clients: int) -> None:
        self.clock = clock
        self.active = clients
        self.arrived = 0
        self.step = asyncio.Event()

    async def polled(self) -> None:
        step = self.step
        self.arrived += 1
        self._advance_if_all_arrived()
        await step.wait()

    def leave(self) -> None:
        self.active -= 1
        self._advance_if_all_arrived()

    def _advance_if_all_arrived(self) -> None:
        if self.active and self.arrived == self.active:
            self.arrived = 0
            self.clock.advance(self.STEP_SECONDS)
            self.step.set()
            self.step = asyncio.Event()


class Lane:
    """A share of the 1,000 clients: one HTTP client of a few connections, and a queue onto them.

    httpx's pool looks through every connection and every waiting request
    each time one is handed over, so a pool of 100 connections with 1,000
    waiters spent most of this test's time there; ten small pools with a
    semaphore in front keep that cost flat.
    """

    CONNECTIONS = 10

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.turns = asyncio.Semaphore(self.CONNECTIONS)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        async with self.turns:
            return await self.http.post(url, **kwargs)

    async def get(self, url: str) -> httpx.Response:
        async with self.turns:
            return await self.http.get(url)


async def one_client(n: int, client: Lane, submitted: list[int], go: asyncio.Event, rounds: Rounds) -> dict[str, Any]:
    ticket = await client.post(PATHS[n % len(PATHS)], json={"prompt": f"client {n}", "seed": n})
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    seen: list[tuple[str, int | None]] = [("IN_QUEUE", body["queue_position"])]
    submitted.append(n)
    if len(submitted) == CLIENTS:
        go.set()  # time starts once every job is in: the queue is 1,000 deep
    await go.wait()
    while seen[-1][0] != "COMPLETED":
        status = await client.get(body["status_url"])
        assert status.status_code == (200 if status.json()["status"] == "COMPLETED" else 202)
        answer = status.json()
        assert answer["request_id"] == body["request_id"]
        seen.append((answer["status"], answer.get("queue_position")))
        if answer["status"] == "COMPLETED":
            rounds.leave()
        else:
            await rounds.polled()
    return {"id": body["request_id"], "response_url": body["response_url"], "seen": seen}


async def run_clients(mock: MockServer) -> list[dict[str, Any]]:
    assert isinstance(mock.clock, ManualClock)
    limits = httpx.Limits(max_connections=Lane.CONNECTIONS, max_keepalive_connections=Lane.CONNECTIONS)
    go = asyncio.Event()
    rounds = Rounds(mock.clock, CLIENTS)
    submitted: list[int] = []
    async with contextlib.AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=mock.url, limits=limits, timeout=60))
            for _ in range(LANES)
        ]
        lanes = [Lane(http) for http in https]
        results = await asyncio.wait_for(
            asyncio.gather(*(one_client(n, lanes[n % LANES], submitted, go, rounds) for n in range(CLIENTS))),
            timeout=120,
        )
        # Results of a sample, fetched concurrently: every one answers 200 with images.
        sample = results[:: CLIENTS // 50]
        answers = await asyncio.gather(*(lanes[0].get(r["response_url"]) for r in sample))
        assert all(a.status_code == 200 and a.json()["images"] for a in answers)
    return list(results)


@pytest.mark.slow
def test_thousand_concurrent_clients() -> None:
    clock = ManualClock()
    with MockServer(clock=clock, concurrency=8) as mock:
        results = asyncio.run(run_clients(mock))
        ids = [r["id"] for r in results]
        assert len(ids) == CLIENTS
        assert len(set(ids)) == CLIENTS  # no duplicates
        assert len(mock.context.queue.jobs) == CLIENTS  # nothing lost or evicted
        for r in results:
            states = [ORDER[s] for s, _ in r["seen"]]
            assert states == sorted(states), r["seen"]  # never backwards
            assert states[-1] == ORDER["COMPLETED"]
            positions = [p for s, p in r["seen"] if s == "IN_QUEUE"]
            assert all(p is not None and p >= 0 for p in positions)
            assert positions == sorted(positions, reverse=True), r["seen"]  # the queue only moves forward
            assert all(p is None for s, p in r["seen"] if s != "IN_QUEUE")
        # With 8 workers and 1,000 jobs, most clients must have waited in the queue.
        assert sum(1 for r in results if any(s == "IN_PROGRESS" for s, _ in r["seen"])) > 0
        assert sorted(r["seen"][0][1] for r in results) == list(range(CLIENTS))  # one place each
