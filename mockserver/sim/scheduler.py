"""A simulated pool of model workers, advanced lazily to "now".

Jobs wait in FIFO order; each free worker takes the next one. Nothing runs in
the background: every call first replays what would have happened up to the
clock's current time, so a status poll costs a few comparisons and a
:class:`~mockserver.sim.clock.ManualClock` drives the whole pool in tests.
"""

from __future__ import annotations

import bisect
import heapq
import itertools

from mockserver.sim.jobs import Job


class Scheduler:
    """Workers and a FIFO queue. A job may also be *held* (a scenario's stuck job):
    it waits outside the FIFO until its hold ends and then joins the tail, so it
    never blocks the jobs behind it."""

    def __init__(self, concurrency: int) -> None:
        # (time the worker becomes free, worker index)
        self._free: list[tuple[float, int]] = [(float("-inf"), i) for i in range(concurrency)]
        self._seqs: list[int] = []  # sequence numbers of waiting jobs, ascending
        self._head = 0  # _seqs[:_head] have been handed to workers
        self._waiting: dict[int, Job] = {}
        self._held: list[tuple[float, int, Job]] = []  # (release time, ticket, job), a heap
        self._tickets = itertools.count()  # queue order; a held job gets a new one on release

    def admit(self, job: Job, now: float) -> None:
        """Catch up to ``now``, then queue a new job: behind exactly the jobs still waiting,
        or straight to a worker when none waits and one is free."""
        if self._held:
            self._release(now)
        if self._head != len(self._seqs):  # with nobody waiting, advance would have nothing to do
            self.advance(now)
        if self._head == len(self._seqs):  # nobody waits: a free worker takes it without a ticket
            free_at, worker = self._free[0]
            start = free_at if free_at > job.ready_at else job.ready_at
            if start <= now:
                job.seq = -1
                self._start(job, start, worker)
                return
        self._append(job)

    def hold(self, job: Job, until: float, now: float) -> None:
        """Keep a job IN_QUEUE, outside the FIFO, until ``until``."""
        self._release(now)
        job.ready_at = until
        job.seq = -1  # no ticket until released
        heapq.heappush(self._held, (until, next(self._tickets), job))

    def _append(self, job: Job) -> None:
        job.seq = next(self._tickets)
        self._seqs.append(job.seq)
        self._waiting[job.seq] = job

    def _release(self, now: float) -> None:
        # Every entry point releases due holds before anything else, and time never goes
        # back, so a released job lands behind exactly the jobs queued before its release.
        while self._held and self._held[0][0] <= now:
            _, _, job = heapq.heappop(self._held)
            if job.finished_at is None:  # not cancelled meanwhile
                self._append(job)

    def advance(self, now: float) -> None:
        if self._held:
            self._release(now)
        seqs, waiting, free = self._seqs, self._waiting, self._free
        head = self._head
        while head < len(seqs):
            job = waiting[seqs[head]]
            free_at, worker = free[0]
            start = free_at if free_at > job.ready_at else job.ready_at
            if start > now:
                break
            del waiting[job.seq]
            self._start(job, start, worker)
            head += 1
        if head > 1024 and head * 2 > len(seqs):
            del seqs[:head]
            head = 0
        self._head = head

    def _start(self, job: Job, start: float, worker: int) -> None:
        """Hand a job to the worker that is free first."""
        # A job that takes no time (time-scale 0) shares its start's float rather than keep its own.
        end = start + job.run_seconds if job.run_seconds else start
        heapq.heapreplace(self._free, (end, worker))
        job.started_at, job.finished_at, job.worker = start, end, worker

    def position(self, job: Job) -> int:
        """How many jobs are ahead of a waiting job (a held one is behind all of them)."""
        if job.seq not in self._waiting:
            return self.waiting()
        return bisect.bisect_left(self._seqs, job.seq, self._head) - self._head

    def waiting(self) -> int:
        return len(self._seqs) - self._head

    def withdraw(self, job: Job, now: float) -> None:
        """Take a job off the queue or off its worker, freeing the worker at ``now``.
        A held job stays in the hold heap and is skipped on release."""
        if job.seq in self._waiting:
            index = bisect.bisect_left(self._seqs, job.seq, self._head)
            del self._seqs[index]
            del self._waiting[job.seq]
        elif job.worker is not None:
            self._free = [(now if w == job.worker else t, w) for t, w in self._free]
            heapq.heapify(self._free)
