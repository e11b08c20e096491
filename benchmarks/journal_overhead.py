"""What the request journal costs: status polls per second with and without it.

    .venv/bin/python benchmarks/journal_overhead.py

Both servers run in this process on this machine, so the figure that matters is
the ratio, not the absolute rate. The "without" server is the bare router (no
journal and no Starlette middleware at all), so the ratio slightly overstates
the journal's cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from starlette.types import ASGIApp

from mockserver.testing import MockServer

POLLS = 2000
TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"


def without_journal(app: ASGIApp) -> ASGIApp:
    # The Starlette app's middleware stack is built lazily; skip the recorder by serving the router.
    router: ASGIApp = app.router  # type: ignore[attr-defined]
    return router


def polls_per_second(wrap: Callable[[ASGIApp], ASGIApp] | None) -> float:
    with MockServer(time_scale=0, wrap=wrap) as server, httpx.Client(base_url=server.url) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "bench"}).json()
        for _ in range(50):
            http.get(ticket["status_url"])
        started = time.perf_counter()
        for _ in range(POLLS):
            http.get(ticket["status_url"])
        return POLLS / (time.perf_counter() - started)


def main() -> None:
    # Alternate the two and keep each one's best round, so load from elsewhere hurts both alike.
    base = journaled = 0.0
    for _ in range(3):
        base = max(base, polls_per_second(without_journal))
        journaled = max(journaled, polls_per_second(None))
    print(f"status polls/s without journal: {base:,.0f}")
    print(f"status polls/s with journal:    {journaled:,.0f}")
    print(f"ratio (with / without): {journaled / base:.2f}")


if __name__ == "__main__":
    main()
