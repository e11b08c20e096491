"""The replay tests' cassette, recorded once per session from an upstream stopped before any replay."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockserver.testing import MockServer
from tests.replay.recorded_cassette import Recording, record


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    made = record(tmp_path_factory.mktemp("replay") / "cassette")
    assert [s["status"] for s in made.statuses] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    with pytest.raises(httpx.TransportError):  # stopped: every answer below comes from the cassette
        httpx.get(made.upstream + "/_mock/health", timeout=2)
    return made


@pytest.fixture
def replay(recording: Recording) -> Iterator[MockServer]:
    with MockServer(time_scale=0, replay_dir=recording.directory) as server:
        yield server
