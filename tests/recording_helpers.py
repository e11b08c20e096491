"""What the recorder's tests share: a clock that ticks once per exchange, and the links in a body."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from mockserver.capture.links import strings

DEADLINE_SECONDS = 10.0


def ticking_clock() -> Callable[[], float]:
    """0 when the recorder starts, then 1, 2, 3 ... one tick per exchange it times."""
    counter = itertools.count()
    return lambda: float(next(counter))


def links_in(doc: Any) -> Iterator[str]:
    return (text for text in strings(doc) if text.startswith(("http://", "https://")))


def until_completed(http: httpx.Client, status_url: str) -> list[dict[str, Any]]:
    """Poll a status URL until COMPLETED (within a deadline); every answer seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        answer = http.get(status_url)
        assert answer.status_code in (200, 202), answer.text
        seen.append(answer.json())
        if seen[-1]["status"] == "COMPLETED":
            return seen
    raise AssertionError(f"not COMPLETED within {DEADLINE_SECONDS} s: {seen[-1:]}")
