"""Stores with expiry and size caps, so a long CI job stays flat.

Files live in memory (generated images, small uploads) or, when an upload is
large, on disk (:mod:`~mockserver.sim.disk_space`); each kind has its own cap
and its own oldest-first eviction, and a file dropped from disk is deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from mockserver.sim.clock import Clock
from mockserver.sim.disk_space import DIGEST_SIZE, DiskPart, DiskSpace
from mockserver.sim.jobs import Job


@dataclass(frozen=True)
class Retention:
    """How long finished requests are kept: fal's rules (an hour; less for a large result),
    or one period for all (``--retention``)."""

    seconds: float
    large_result_seconds: float
    large_result_bytes: int

    @classmethod
    def flat(cls, seconds: float) -> Retention:
        return cls(seconds, seconds, 0)

    @property
    def shortest(self) -> float:
        return min(self.seconds, self.large_result_seconds)

    def for_result(self, large: bool) -> float:
        return self.large_result_seconds if large else self.seconds

    def for_size(self, result_bytes: int) -> float:
        return self.for_result(result_bytes >= self.large_result_bytes)


@dataclass(frozen=True)
class StoredFile:
    data: bytes  # the bytes of a file kept in memory; b"" for one on disk
    content_type: str
    name: str
    etag: str
    expires_at: float
    parts: tuple[DiskPart, ...] = ()  # a file on disk: its pieces, served one after the other
    size: int = 0

    @property
    def on_disk(self) -> bool:
        return bool(self.parts)

    def read(self, limit: int) -> bytes:
        """At most ``limit`` bytes from the start; a file deleted meanwhile reads as far as it still goes."""
        if not self.parts:
            return self.data if len(self.data) <= limit else self.data[:limit]
        chunks: list[bytes] = []
        left = limit
        for part in self.parts:
            if left <= 0:
                break
            try:
                with open(part.path, "rb") as file:
                    chunk = file.read(left)
            except FileNotFoundError:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def parts_etag(parts: Sequence[DiskPart]) -> str:
    """One part: the digest of its bytes, as a file in memory would have; several: the digest of
    their digests with their count, as S3 marks a multipart object's ETag."""
    if len(parts) == 1:
        return '"' + parts[0].digest.hex() + '"'
    joined = hashlib.blake2b(b"".join(p.digest for p in parts), digest_size=DIGEST_SIZE)
    return f'"{joined.hexdigest()}-{len(parts)}"'


class FileStore:
    """Files by id, oldest evicted first once a cap is reached: ``max_bytes`` for files in
    memory, the disk space's own budget for files on disk."""

    def __init__(self, clock: Clock, max_bytes: int, ttl_seconds: float, disk: DiskSpace | None = None) -> None:
        self._clock = clock
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._files: OrderedDict[str, StoredFile] = OrderedDict()  # in memory
        self._on_disk: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self.disk = disk or DiskSpace(None, 0)
        self.disk.add_reclaimer(self._reclaim)

    def put(
        self, data: bytes, content_type: str, name: str, ttl_seconds: float | None = None, *, file_id: str | None = None
    ) -> str:
        """Store ``data`` in memory; a given ``file_id`` (a reserved upload) replaces what it held."""
        file_id = self._new_id(file_id)
        etag = '"' + hashlib.blake2b(data, digest_size=DIGEST_SIZE).hexdigest() + '"'
        self._files[file_id] = StoredFile(data, content_type, name, etag, self._expiry(ttl_seconds), size=len(data))
        self._bytes += len(data)
        self._evict()
        return file_id

    def put_parts(
        self,
        parts: Sequence[DiskPart],
        content_type: str,
        name: str,
        ttl_seconds: float | None = None,
        *,
        file_id: str | None = None,
    ) -> str:
        """Keep files of the disk space as one file, in their order. They are the store's from now
        on (already counted in the disk's budget), deleted when the file is dropped."""
        file_id = self._new_id(file_id)
        size = sum(p.size for p in parts)
        stored = StoredFile(b"", content_type, name, parts_etag(parts), self._expiry(ttl_seconds), tuple(parts), size)
        self._on_disk[file_id] = stored
        self._evict()
        return file_id

    def get(self, file_id: str) -> StoredFile | None:
        stored = self._files.get(file_id) or self._on_disk.get(file_id)
        if stored is None:
            return None
        if stored.expires_at <= self._clock.now():
            self._drop(file_id)
            return None
        return stored

    def __len__(self) -> int:
        return len(self._files) + len(self._on_disk)

    def _new_id(self, file_id: str | None) -> str:
        if file_id is None:
            return secrets.token_hex(12)
        self._drop(file_id)
        return file_id

    def _expiry(self, ttl_seconds: float | None) -> float:
        return self._clock.now() + (self._ttl if ttl_seconds is None else ttl_seconds)

    def _drop(self, file_id: str) -> None:
        stored = self._files.pop(file_id, None)
        if stored is not None:
            self._bytes -= len(stored.data)
        stored = self._on_disk.pop(file_id, None)
        if stored is not None:
            for part in stored.parts:
                self.disk.delete(part)

    def _evict(self) -> None:
        now = self._clock.now()
        # Files live as long as their request or their lifecycle header says, so an expired file
        # may sit behind an older one that lives on: past the cap, every expired file goes before
        # the oldest live one does.
        if self._bytes > self._max_bytes:
            self._drop_expired(self._files, now)
        while self._files:
            file_id, stored = next(iter(self._files.items()))
            if self._bytes <= self._max_bytes and stored.expires_at > now:
                break
            self._drop(file_id)
        while self._on_disk:
            file_id, stored = next(iter(self._on_disk.items()))
            if stored.expires_at > now:
                break
            self._drop(file_id)

    def _drop_expired(self, files: Mapping[str, StoredFile], now: float) -> None:
        for file_id in [file_id for file_id, stored in files.items() if stored.expires_at <= now]:
            self._drop(file_id)

    def _reclaim(self, needed: int, expired_only: bool) -> None:
        """Room for ``needed`` more bytes on disk: every expired file, then (unless only those
        may go) the oldest."""
        self._drop_expired(self._on_disk, self._clock.now())
        disk = self.disk
        while not expired_only and self._on_disk and disk.used + needed > disk.max_bytes:
            self._drop(next(iter(self._on_disk)))


class JobStore:
    """Jobs by id. Finished jobs expire after the retention period; past a
    cap (a count, and a byte budget for what jobs carry), the oldest finished
    jobs go first. Unfinished jobs are never dropped: when they alone fill the
    store, :meth:`has_room` says no and the caller refuses new work.

    A store at its count cap drops a hundredth of the cap at once (one job
    under a cap of 200), so the next submits find room without a sweep: a
    sweep per submit for one job each cost a full store a tenth of its
    submit rate under load; one sweep for many jobs spreads its cost over them.
    """

    def __init__(
        self, clock: Clock, retention_seconds: float, max_jobs: int, max_bytes: int | None = None
    ) -> None:
        self._clock = clock
        self._retention = retention_seconds  # the shortest a job is kept (each job says its own)
        self._max_jobs = max_jobs
        self._evict_at_once = max(1, max_jobs // 100)
        self._max_bytes = max_bytes
        self._jobs: dict[str, Job] = {}
        # Oldest first. A plain dict and a queue of references hold 100,000 jobs in
        # ~6 MB less than an OrderedDict; a job dropped early stays here until swept past.
        self._order: deque[Job] = deque()
        self._bytes = 0
        # The oldest job's expiry as the last sweep saw it: a sweep before then stops at that
        # job, so submits under the cap skip it (a look at the oldest job is a cache miss or
        # two, on every submit). A cancel may bring a running job's end forward: it is then
        # freed up to its run time late, while lookups still expire it on time.
        self._quiet_until = float("-inf")

    def add(self, job: Job) -> None:
        """Keep a job that :meth:`has_room` has just made room for (it swept already)."""
        self._jobs[job.id] = job
        self._order.append(job)
        self._bytes += job.size_bytes

    def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is not None and self._expired(job, self._clock.now()):
            self._drop(job_id)
            return None
        return job

    def has_room(self, size_bytes: int = 0, now: float | None = None) -> bool:
        """Whether a job of this size fits once expired and evictable jobs are gone
        (``now``: the time the caller has just read, if it has)."""
        if len(self._jobs) >= self._max_jobs:
            self.sweep(slots=self._evict_at_once, incoming=size_bytes, now=now)
        elif (self._max_bytes is not None and self._bytes + size_bytes > self._max_bytes) or (
            now := self._clock.now() if now is None else now
        ) >= self._quiet_until:
            self.sweep(slots=1, incoming=size_bytes, now=now)
        if len(self._jobs) >= self._max_jobs:
            return False
        return self._max_bytes is None or not self._jobs or self._bytes + size_bytes <= self._max_bytes

    def _drop(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is not None:
            self._bytes -= job.size_bytes

    def __len__(self) -> int:
        return len(self._jobs)

    def newest(self) -> Iterator[Job]:
        """The jobs still kept, newest first, read in place (no copy): for pages that show them.
        Expired jobs are skipped, not dropped (a reader changes nothing)."""
        now = self._clock.now()
        for job in reversed(self._jobs.values()):
            if not self._expired(job, now):
                yield job

    def sweep(self, slots: int = 0, incoming: int = 0, now: float | None = None) -> None:
        """Drop expired jobs from the old end, and the oldest finished ones past a cap.

        ``slots`` and ``incoming`` make room for jobs about to be added, and their bytes;
        ``now``: the time the caller has just read, if it has.
        """
        if now is None:
            now = self._clock.now()
        order, jobs, retention = self._order, self._jobs, self._retention
        # A job not finished yet cannot finish before now, so cannot expire before now + the
        # shortest retention.
        self._quiet_until = now + retention
        while order:
            job = order[0]
            if jobs.get(job.id) is not job:  # dropped already (expired on lookup)
                order.popleft()
                continue
            over_cap = len(self._jobs) + slots > self._max_jobs or (
                self._max_bytes is not None and self._bytes + incoming > self._max_bytes
            )
            # COMPLETED is a finish time reached (Job.state); expired is that time plus the
            # retention (_expired).
            finished = job.finished_at
            # A job kept less than the longest (a large result) may be freed behind longer-kept ones:
            # lookups expire it on time all the same.
            if finished is None or not ((over_cap and finished <= now) or finished + job.retention <= now):
                if finished is not None:
                    self._quiet_until = min(self._quiet_until, finished + job.retention)
                break
            order.popleft()
            self._drop(job.id)
        if len(order) > 2 * len(jobs) + 64:
            # Jobs dropped behind one that must stay (unfinished) would pile up here: compact.
            self._order = deque(job for job in order if jobs.get(job.id) is job)

    def _expired(self, job: Job, now: float) -> bool:
        return job.finished_at is not None and job.finished_at + job.retention <= now
