"""Unmodified programs under the real ``flux-mock check`` command, through every ready-made scenario.

A fal_client program and an openai SDK program, written as a user would
(they read only the environment ``check --tls`` gives them and handle the
faults a real service has), must succeed and pass: exit 0, no error line,
whatever the scenario injects. slow-queue holds jobs for simulated time: as
its description says, the test moves the mock's clock rather than wait.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.calibration import SCENARIOS

pytestmark = pytest.mark.slow

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
PROGRAMS = ("fal_subscribe_loop.py", "openai_sdk_loop.py")
RUN_TIMEOUT = 120
ERROR_LINE = re.compile(r"^\s*error\s+\[", re.MULTILINE)
PASSED = re.compile(r"^flux-mock check passed: \d+ requests, 0 errors, .*; command exited 0$", re.MULTILINE)


def _start(program: str, scenario: Path, state_dir: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "mockserver", "check", "--tls", "--state-dir", str(state_dir),
        "--time-scale", "0.05", "--scenarios", str(scenario), "--", sys.executable, str(CLIENTS / program),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _move_clock(url: str, bundle: Path, done: threading.Event) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=bundle), timeout=5) as client:
        while not done.wait(0.05):
            try:
                client.post(f"{url}/_mock/clock", json={"advance": 20})
            except httpx.TransportError:
                return  # the check is over and its mock gone


class _Run:
    """One check command; with ``move_clock``, the mock's clock moves on while it runs."""

    def __init__(self, program: str, scenario: Path, state_dir: Path, move_clock: bool) -> None:
        self.process = _start(program, scenario, state_dir)
        assert self.process.stdout is not None
        self.first = self.process.stdout.readline()  # "flux-mock check: mock on URL; running ..."
        self.done = threading.Event()
        self.ticker: threading.Thread | None = None
        found = re.search(r"mock on (https://\S+);", self.first)
        if move_clock and found:
            bundle = state_dir / "tls" / "bundle.pem"
            self.ticker = threading.Thread(target=_move_clock, args=(found.group(1), bundle, self.done))
            self.ticker.start()

    def report(self) -> str:
        assert self.process.stdout is not None
        watchdog = threading.Timer(RUN_TIMEOUT, self.process.kill)  # a hung program fails instead of hanging
        watchdog.start()
        try:
            rest = self.process.stdout.read()  # to the end: communicate() would skip what readline() buffered
            self.process.wait()
        finally:
            watchdog.cancel()
            self.done.set()
            if self.ticker is not None:
                self.ticker.join()
        assert self.process.returncode == 0, self.first + rest
        return self.first + rest


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_unmodified_programs_pass_check_under_each_scenario(
    scenario: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The two programs run side by side, each under its own check with its own CA folder.
    dirs = [tmp_path_factory.mktemp(Path(p).stem) for p in PROGRAMS]
    slow = scenario.stem == "slow-queue"
    runs = [_Run(program, scenario, folder, slow) for program, folder in zip(PROGRAMS, dirs, strict=True)]
    reports = [run.report() for run in runs]
    for program, report in zip(PROGRAMS, reports, strict=True):
        assert "\nOK " in report, f"{program} did not finish:\n{report}"
        assert not ERROR_LINE.search(report), report
        assert PASSED.search(report), report
