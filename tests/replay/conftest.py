"""The replay tests' cassette, recorded once per session through the recorder from an upstream mock;
both are stopped before any replay."""

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
    for stopped in (made.source, made.upstream):  # every answer below comes from the cassette
        with pytest.raises(httpx.TransportError):
            httpx.get(stopped + "/_mock/health", timeout=2)
    return made


@pytest.fixture
def replay(recording: Recording) -> Iterator[MockServer]:
    with MockServer(time_scale=0, replay=recording.directory) as server:
        yield server
