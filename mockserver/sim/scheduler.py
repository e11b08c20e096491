"""A simulated pool of model workers, advanced lazily to "now".

Jobs wait in two FIFO lines, normal and low priority (``X-Fal-Queue-Priority:
low``); a free worker takes the next ready normal job, and a low one only
when no normal job is ready. Nothing runs in the background: every call first
replays what would have happened up to the clock's current time, so a status
poll costs a few comparisons and a :class:`~mockserver.sim.clock.ManualClock`
drives the whole pool in tests.

A job may carry a start deadline (``X-Fal-Request-Start-Timeout``): if no
worker has taken it by then, it ends at the deadline without running.
"""

from __future__ import annotations

import bisect
import heapq
import itertools

from mockserver.sim.jobs import START_TIMEOUT, Job


class _Line:
    """One FIFO line of waiting jobs, by ticket."""

    __slots__ = ("head", "seqs", "waiting")

    def __init__(self) -> None:
        self.seqs: list[int] = []  # tickets of waiting jobs, ascending
        self.head = 0  # seqs[:head] have left the line
        self.waiting: dict[int, Job] = {}

    def __len__(self) -> int:
        return len(self.seqs) - self.head

    def first(self) -> Job:
        return self.waiting[self.seqs[self.head]]

    def pop_first(self) -> None:
        del self.waiting[self.seqs[self.head]]
        self.head += 1
        if self.head > 1024 and self.head * 2 > len(self.seqs):
            del self.seqs[: self.head]
            self.head = 0

    def append(self, job: Job) -> None:
        self.seqs.append(job.seq)
        self.waiting[job.seq] = job

    def remove(self, job: Job) -> bool:
        if job.seq not in self.waiting:
            return False
        del self.seqs[bisect.bisect_left(self.seqs, job.seq, self.head)]
        del self.waiting[job.seq]
        return True

    def ahead_of(self, job: Job) -> int:
        return bisect.bisect_left(self.seqs, job.seq, self.head) - self.head


class Scheduler:
    """Workers and two FIFO lines. A job may also be *held* (a scenario's stuck job):
    it waits outside the lines until its hold ends and then joins the tail of its
    own, so it never blocks the jobs behind it."""

    def __init__(self, concurrency: int) -> None:
        # (time the worker becomes free, worker index)
        self._free: list[tuple[float, int]] = [(float("-inf"), i) for i in range(concurrency)]
        self._normal = _Line()
        self._low = _Line()
        self._held: list[tuple[float, int, Job]] = []  # (release time, ticket, job), a heap
        self._deadlines: list[tuple[float, int, Job]] = []  # (start deadline, ticket, job), a heap
        self._tickets = itertools.count()  # queue order; a held job gets a new one on release

    def admit(self, job: Job, now: float) -> None:
        """Catch up to ``now``, then queue a new job: behind exactly the jobs still waiting
        in its line (a low-priority one behind every normal one too), or straight to a
        worker when none of its line waits and one is free."""
        self.advance(now)
        # Whoever still waits after the catch-up cannot start by now, so a job that can
        # goes first, whatever waits in the other line.
        if not (self._low if job.low_priority else self._normal):
            free_at, worker = self._free[0]
            start = free_at if free_at > job.ready_at else job.ready_at
            if start <= now:
                job.seq = -1
                self._start(job, start, worker)
                return
        self._append(job)
        self._watch_deadline(job)

    def hold(self, job: Job, until: float, now: float) -> None:
        """Keep a job IN_QUEUE, outside the lines, until ``until``."""
        self.advance(now)
        job.ready_at = until
        job.seq = -1  # no ticket until released
        heapq.heappush(self._held, (until, next(self._tickets), job))
        self._watch_deadline(job)

    def _watch_deadline(self, job: Job) -> None:
        if job.start_deadline is None:
            return
        heapq.heappush(self._deadlines, (job.start_deadline, next(self._tickets), job))
        # Entries of jobs that started in time stay until their deadline; past twice what
        # still waits, keep only those, so a flood of long deadlines cannot pin old jobs.
        if len(self._deadlines) > 2 * (self.waiting() + len(self._held)) + 1024:
            self._deadlines = [e for e in self._deadlines if e[2].started_at is None and e[2].finished_at is None]
            heapq.heapify(self._deadlines)

    def _append(self, job: Job) -> None:
        job.seq = next(self._tickets)
        (self._low if job.low_priority else self._normal).append(job)

    def _release(self, now: float) -> None:
        # Every entry point releases due holds before anything else, and time never goes
        # back, so a released job lands behind exactly the jobs queued before its release.
        while self._held and self._held[0][0] <= now:
            _, _, job = heapq.heappop(self._held)
            if job.finished_at is None:  # not cancelled or expired meanwhile
                self._append(job)

    def advance(self, now: float) -> None:
        if self._held:
            self._release(now)
        normal, low, free = self._normal, self._low, self._free
        while normal or low:
            free_at, worker = free[0]
            if self._expire_heads(free_at, now):
                continue
            line = normal
            if normal:
                job = normal.first()
                start = free_at if free_at > job.ready_at else job.ready_at
                if low and start > free_at:
                    # The normal job is not ready when the worker frees: a ready low one may go first.
                    other = low.first()
                    other_start = free_at if free_at > other.ready_at else other.ready_at
                    if other_start < start:
                        job, start, line = other, other_start, low
            else:
                job, line = low.first(), low
                start = free_at if free_at > job.ready_at else job.ready_at
            deadline = job.start_deadline
            if start > now or (deadline is not None and start > deadline):
                break  # not yet; a job that cannot start in time expires once its deadline passes
            line.pop_first()
            self._start(job, start, worker)
        if self._deadlines:
            self._expire_due(now)

    def _expire_heads(self, free_at: float, now: float) -> bool:
        """End a line's first job if it can no longer start by its deadline (True if one ended).
        Done before the lines are compared, so an expired head never counts as the normal
        job that is not ready yet, letting a low one go ahead of a ready normal one."""
        for line in (self._normal, self._low):
            if not line:
                continue
            job = line.first()
            deadline = job.start_deadline
            if deadline is not None and deadline <= now and max(free_at, job.ready_at) > deadline:
                line.pop_first()
                _expire(job, deadline)
                return True
        return False

    def _expire_due(self, now: float) -> None:
        """End the jobs whose start deadline has passed while they waited deeper in a line."""
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, job = heapq.heappop(self._deadlines)
            if job.finished_at is not None or (job.started_at is not None and job.started_at <= deadline):
                continue  # it started in time, ended, or was cancelled
            if not self._normal.remove(job):
                self._low.remove(job)  # a held job is in neither: it is skipped on release
            _expire(job, deadline)

    def _start(self, job: Job, start: float, worker: int) -> None:
        """Hand a job to the worker that is free first."""
        # A job that takes no time (time-scale 0) shares its start's float rather than keep its own.
        end = start + job.run_seconds if job.run_seconds else start
        heapq.heapreplace(self._free, (end, worker))
        job.started_at, job.finished_at, job.worker = start, end, worker

    def position(self, job: Job) -> int:
        """How many jobs are ahead of a waiting job (a held one is behind all of its line)."""
        if job.low_priority:
            ahead = len(self._normal)
            return ahead + (self._low.ahead_of(job) if job.seq in self._low.waiting else len(self._low))
        if job.seq in self._normal.waiting:
            return self._normal.ahead_of(job)
        return len(self._normal)

    def waiting(self) -> int:
        return len(self._normal) + len(self._low)

    def withdraw(self, job: Job, now: float) -> None:
        """Take a job off its line or off its worker, freeing the worker at ``now``.
        A held job stays in the hold heap and is skipped on release."""
        if self._normal.remove(job) or self._low.remove(job):
            return
        if job.worker is not None:
            self._free = [(now if w == job.worker else t, w) for t, w in self._free]
            heapq.heapify(self._free)


def _expire(job: Job, deadline: float) -> None:
    job.failure = START_TIMEOUT
    job.finished_at = deadline
