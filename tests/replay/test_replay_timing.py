"""With a time scale, replayed status answers keep the pace they were recorded at (times the scale)."""

from __future__ import annotations

from pathlib import Path

import httpx

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer, RecordingProxy
from tests.helpers import TEXT


def record_paced(directory: Path) -> list[str]:
    """A lifecycle polled at 0 s, 1 s and 11 s of the upstream's clock; the statuses it answered."""
    clock = ManualClock()
    with MockServer(clock=clock) as upstream, RecordingProxy(
        upstream=upstream.url, cassette=directory, clock=clock.now
    ) as recorder, httpx.Client(base_url=recorder.url, timeout=10) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "slow and steady"}).json()
        statuses = [http.get(ticket["status_url"]).json()["status"]]
        for step in (1, 10):
            clock.advance(step)
            statuses.append(http.get(ticket["status_url"]).json()["status"])
    return statuses


def test_status_answers_wait_for_their_recorded_time(tmp_path: Path) -> None:
    assert record_paced(tmp_path / "c") == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    clock = ManualClock()
    with MockServer(clock=clock, time_scale=2, replay_dir=tmp_path / "c") as replay, httpx.Client(
        base_url=replay.url, timeout=10
    ) as http:
        status_url = http.post(f"/{TEXT}", json={"prompt": "slow and steady"}).json()["status_url"]

        def poll() -> str:
            return str(http.get(status_url).json()["status"])

        assert [poll(), poll()] == ["IN_QUEUE", "IN_QUEUE"]  # IN_PROGRESS came 1 s in: 2 s at scale 2
        clock.advance(2)
        assert [poll(), poll()] == ["IN_PROGRESS", "IN_PROGRESS"]  # COMPLETED is due at 22 s
        clock.advance(19)
        assert poll() == "IN_PROGRESS"
        clock.advance(1)
        assert [poll(), poll()] == ["COMPLETED", "COMPLETED"]
