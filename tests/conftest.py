from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer

pytest_plugins = ["pytester"]  # for running sample user suites against the flux_mock fixture

NPM_PACKAGES = ("@fal-ai/client", "openai")
INSTALL_TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests marked slow wait seconds on real clients' backoffs: started first, they are done while
    # the quick ones still keep every worker busy, instead of one of them running on alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


@pytest.fixture(scope="session")
def js_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway folder with the JavaScript clients installed: the one `npm install` of the session.

    The only fixture that reaches the network. It skips only when node or npm
    is missing (or node is too old for the clients' fetch); a failed install fails.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the JavaScript client tests; they are not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        pytest.skip(f"@fal-ai/client needs Node 18+ (fetch); found {version}")
    # One install for the whole run: every test worker shares the run's base temporary directory
    # (its parent, under xdist), and the first to take the lock installs for the others.
    shared = tmp_path_factory.getbasetemp()
    if shared.name.startswith("popen-gw"):
        shared = shared.parent
    folder = shared / "js-clients"
    folder.mkdir(exist_ok=True)
    with (shared / "js-clients.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "installed").exists():
            _npm_install(npm, folder)
            (folder / "installed").touch()
    return folder


def _npm_install(npm: str, folder: Path) -> None:
    (folder / "package.json").write_text(json.dumps({"name": "flux-mock-js-check", "private": True}))
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES],
            cwd=folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm install {' '.join(NPM_PACKAGES)} took over {INSTALL_TIMEOUT} s")
    if done.returncode != 0:
        pytest.fail(f"npm install {' '.join(NPM_PACKAGES)} failed:\n{done.stdout}\n{done.stderr}")
