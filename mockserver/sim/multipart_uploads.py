"""Multipart uploads: a file sent as numbered parts, then put together by a "complete" call.

Starting an upload fixes the file's id and name, so the client knows its final
URL at once (both fal clients build the part URLs on it). Parts arrive in any
order, at once or one by one, each a file in the disk space; sending a part
number again replaces it (a retry). Completing checks the list the client
sends against what arrived and hands the parts, in order, to the file store.

Unfinished uploads are bounded: they expire ``ttl_seconds`` after they were
started (on the injected clock), at most ``max_sessions`` are open (the oldest
goes first), and an upload's parts together stay within ``max_bytes``.
Whatever an upload leaves unfinished is deleted from disk when it goes. A
completed upload is remembered until it would have expired, so a repeated
"complete" (a retry whose answer was lost) is answered as the first one was.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from mockserver.sim.clock import Clock
from mockserver.sim.disk_space import DiskPart, DiskSpace
from mockserver.sim.stores import parts_etag

MAX_PARTS = 10_000  # part numbers run from 1 to this, as on S3


class MultipartError(Exception):
    """Why a part or a completion was refused; nothing was changed."""


class UploadNotFound(MultipartError):
    pass


class UploadCompleted(MultipartError):
    pass


class UploadTooLarge(MultipartError):
    pass


class PartsMismatch(MultipartError):
    """The completion's list of parts does not describe what was uploaded."""


@dataclass
class Session:
    file_id: str
    name: str
    content_type: str
    expires_at: float
    parts: dict[int, DiskPart] = field(default_factory=dict)
    completed: bool = False
    size: int = 0  # of the parts received (of the file, once completed)
    file_seconds: float | None = None  # how long the completed file is kept (None: the store's default)


def part_etag(part: DiskPart) -> str:
    """The ETag a part is answered with, and that the completion must list for it."""
    return parts_etag([part])


class MultipartUploads:
    def __init__(
        self, clock: Clock, disk: DiskSpace, ttl_seconds: float, max_bytes: int, max_sessions: int = 1_000
    ) -> None:
        self._clock = clock
        self._disk = disk
        self._ttl = ttl_seconds
        self.max_bytes = max_bytes
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        disk.add_reclaimer(self._reclaim)

    def start(self, name: str, content_type: str, file_seconds: float | None = None) -> tuple[str, Session]:
        """A new upload id and its session (``file_seconds``: the completed file's lifetime)."""
        self._sweep()
        upload_id = secrets.token_urlsafe(18)
        session = Session(
            secrets.token_hex(12), name, content_type, self._clock.now() + self._ttl, file_seconds=file_seconds
        )
        self._sessions[upload_id] = session
        while len(self._sessions) > self._max_sessions:
            self._drop(next(iter(self._sessions)))
        return upload_id, session

    def get(self, upload_id: str) -> Session | None:
        """The session while it lasts."""
        session = self._sessions.get(upload_id)
        if session is not None and session.expires_at <= self._clock.now():
            self._drop(upload_id)
            return None
        return session

    def session_of(self, upload_id: str, file_id: str, name: str) -> Session:
        """The session ``upload_id`` of the file at ``file_id``/``name`` (from the URL the client was given)."""
        session = self.get(upload_id)
        if session is None or session.file_id != file_id or session.name != name:
            raise UploadNotFound("Multipart upload not found or expired: initiate the upload again")
        return session

    def open_session(self, upload_id: str, file_id: str, name: str) -> Session:
        """As :meth:`session_of`, for an upload that still takes parts."""
        session = self.session_of(upload_id, file_id, name)
        if session.completed:
            raise UploadCompleted("This multipart upload is complete already: it takes no more parts")
        return session

    def room_for(self, session: Session, number: int) -> int:
        """How many bytes part ``number`` may have: what the other parts leave of ``max_bytes``."""
        replaced = session.parts.get(number)
        return self.max_bytes - session.size + (replaced.size if replaced else 0)

    def add_part(self, upload_id: str, file_id: str, name: str, number: int, part: DiskPart) -> Session:
        """Keep ``part`` as part ``number``; from here the part is the session's (refused, it is deleted)."""
        try:
            session = self.open_session(upload_id, file_id, name)
            if part.size > self.room_for(session, number):
                raise UploadTooLarge(f"The upload's parts together exceed the {self.max_bytes}-byte limit")
        except MultipartError:
            self._disk.delete(part)
            raise
        replaced = session.parts.pop(number, None)
        if replaced is not None:
            session.size -= replaced.size
            self._disk.delete(replaced)
        session.parts[number] = part
        session.size += part.size
        return session

    def complete(
        self, upload_id: str, file_id: str, name: str, listed: Sequence[tuple[int, str]]
    ) -> tuple[Session, list[DiskPart]]:
        """Check the client's list of (part number, ETag) against the parts received.

        Answers the session and its parts in order, which are the caller's to
        store from now on (none again, for an upload completed before). On a
        mismatch nothing changes and the parts stay, so the client may send
        what is missing and complete again.
        """
        session = self.session_of(upload_id, file_id, name)
        if session.completed:
            return session, []
        ordered = _check_listing(session, listed)
        session.completed = True
        session.parts = {}  # handed over: dropping the session no longer deletes them
        return session, ordered

    def __len__(self) -> int:
        return len(self._sessions)

    def _drop(self, upload_id: str) -> None:
        session = self._sessions.pop(upload_id, None)
        if session is not None:
            for part in session.parts.values():
                self._disk.delete(part)
            session.parts = {}

    def _sweep(self) -> None:
        """Expired sessions, from the oldest (all sessions live equally long)."""
        now = self._clock.now()
        while self._sessions:
            upload_id, session = next(iter(self._sessions.items()))
            if session.expires_at > now:
                break
            self._drop(upload_id)

    def _reclaim(self, needed: int, expired_only: bool) -> None:
        # Unfinished uploads are never cut short for room: only expired ones give it up.
        self._sweep()


def _check_listing(session: Session, listed: Sequence[tuple[int, str]]) -> list[DiskPart]:
    etags: dict[int, str] = {}
    for number, etag in listed:
        if number in etags:
            raise PartsMismatch(f"Part {number} is listed more than once")
        etags[number] = etag
    expected = range(1, len(etags) + 1)
    for number in expected:
        if number not in etags:
            raise PartsMismatch(f"Part {number} is missing from the list: list parts 1 to {len(etags)} without gaps")
        part = session.parts.get(number)
        if part is None:
            raise PartsMismatch(f"Part {number} was never uploaded: upload it, then complete again")
        if etags[number] != part_etag(part):
            raise PartsMismatch(
                f"Part {number}'s etag {etags[number]!r} is not that of the part received ({part_etag(part)!r})"
            )
    unlisted = sorted(set(session.parts) - set(expected))
    if unlisted:
        raise PartsMismatch(f"Part {unlisted[0]} was uploaded but is not listed: list every part to complete")
    return [session.parts[number] for number in expected]
