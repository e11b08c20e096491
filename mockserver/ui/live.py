"""The dashboard's live feed: a change event whenever what a page shows has moved on.

The feed keeps no history of its own. It holds the two marks the page last
saw (the journal's last number and a digest of the newest jobs' states, see
:func:`~mockserver.ui.views.jobs_mark`), compares them with the stores every
``interval`` seconds, and says so when they differ; the page then fetches
itself again. It ends when the server begins to stop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from mockserver.sim.stopping import Stopping

# Real seconds between two looks at the stores while a page is open.
INTERVAL_SECONDS = 0.25
# A comment line this often keeps proxies from closing a quiet feed, and finds a page gone.
KEEPALIVE_SECONDS = 15.0
# What a browser waits before it opens the feed again when the connection is lost.
RETRY_MS = 1000


@dataclass(frozen=True)
class Marks:
    since: int  # the journal's last seq
    jobs: str  # jobs_mark

    def event(self) -> str:
        data = json.dumps({"since": self.since, "jobs": self.jobs})
        return f"event: change\ndata: {data}\n\n"


async def changes(
    seen: Marks, current: Callable[[], Marks], stopping: Stopping, interval: float = INTERVAL_SECONDS
) -> AsyncIterator[str]:
    """Server-Sent Events: ``change`` each time ``current()`` differs from what was last said."""
    yield f"retry: {RETRY_MS}\n\n"
    quiet = 0.0
    while True:
        now = current()
        if now != seen:
            seen = now
            quiet = 0.0
            yield now.event()
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": still here\n\n"
        if await stopping.sleep(interval):
            return
        quiet += interval
