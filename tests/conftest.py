from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer

pytest_plugins = ["pytester"]  # for running sample user suites against the flux_mock fixture


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mock(clock: ManualClock) -> Iterator[MockServer]:
    """A real server on a free port whose time moves only with ``clock.advance``."""
    with MockServer(clock=clock, concurrency=2) as server:
        yield server


@pytest.fixture
def instant() -> Iterator[MockServer]:
    """A real server on the wall clock with jobs that complete at once."""
    with MockServer(time_scale=0) as server:
        yield server


@pytest.fixture
def http(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        yield client


@pytest.fixture
def test_id(request: pytest.FixtureRequest) -> str:
    """This test's scenario scope: its node id, sent as X-Mock-Test-Id."""
    nodeid: str = request.node.nodeid
    return nodeid
