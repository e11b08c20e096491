"""Time as the domain sees it.

Every state change in the mock is a function of "now", read from a clock
object. Production code uses the wall clock; tests use :class:`ManualClock` and
move time by hand, so lifecycles are checked without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to. Safe to share across threads."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00Z
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now


class OffsetClock:
    """Another clock plus an offset that only grows.

    The server always reads time through one of these, so a test can move
    simulated time on a running server (``POST /_mock/clock``) whatever clock
    drives it underneath.
    """

    def __init__(self, base: Clock) -> None:
        self.base = base
        # Time is read several times a request: over the wall clock, read it straight from
        # time.time rather than through a second method call.
        self._base_now: Callable[[], float] = time.time if type(base) is SystemClock else base.now
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        # Reading one float needs no lock (advance holds it to add).
        return self._base_now() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._offset += seconds
            return self._base_now() + self._offset
