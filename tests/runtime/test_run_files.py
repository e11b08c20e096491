"""Several mocks sharing one state directory, and mocks that died: what ``flux-mock env`` reports.

Real ``flux-mock serve`` processes on free ports; ``env`` run as a user runs it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.runtime.run_file import RUN_DIR, RunInfo, run_file, running_mocks, write_run_file


def _serve(state: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the run file is written
    assert "listening on" in line, line
    return process, line.split("listening on ")[1].split()[0]


def _env(state: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "env", "--state-dir", str(state), *options],
        capture_output=True, text=True, timeout=60,
    )


def _exported_url(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("export FLUX_MOCK_URL=")]
    return line.split("=", 1)[1]


@pytest.fixture
def two_mocks(tmp_path: Path) -> Iterator[tuple[Path, list[tuple[subprocess.Popen[str], str]]]]:
    state = tmp_path / "state"
    mocks = [_serve(state), _serve(state)]
    yield state, mocks
    for process, _ in mocks:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def test_two_mocks_in_one_state_directory_are_both_recorded(
    two_mocks: tuple[Path, list[tuple[subprocess.Popen[str], str]]],
) -> None:
    state, [(_, first), (_, second)] = two_mocks
    assert sorted(info.url for info in running_mocks(state)) == sorted([first, second])
    both = _env(state)
    assert both.returncode == 1 and both.stdout == ""
    assert "2 mocks are running" in both.stderr and first in both.stderr and second in both.stderr
    assert "--port" in both.stderr
    for url in (first, second):
        chosen = _env(state, "--port", url.rsplit(":", 1)[1])
        assert chosen.returncode == 0, chosen.stderr
        assert _exported_url(chosen.stdout) == url


def test_stopping_one_mock_leaves_the_other_reported(
    two_mocks: tuple[Path, list[tuple[subprocess.Popen[str], str]]],
) -> None:
    state, [(_, first), (second_process, _)] = two_mocks
    second_process.send_signal(signal.SIGINT)
    assert second_process.wait(timeout=20) == 0
    left = _env(state)
    assert left.returncode == 0, left.stderr
    assert _exported_url(left.stdout) == first


def test_a_mock_killed_without_cleaning_up_is_never_reported(tmp_path: Path) -> None:
    state = tmp_path / "state"
    process, url = _serve(state)
    process.kill()
    process.wait(timeout=20)
    assert len(list((state / RUN_DIR).glob("*.json"))) == 1  # it had no chance to remove its file
    gone = _env(state)
    assert gone.returncode == 1 and gone.stdout == ""
    assert "no running mock" in gone.stderr
    assert list((state / RUN_DIR).glob("*.json")) == []  # and the stale file is gone
    asked = _env(state, "--port", url.rsplit(":", 1)[1])
    assert asked.returncode == 1 and "no running mock on port" in asked.stderr


def test_a_live_pid_without_a_listening_port_is_not_a_mock(tmp_path: Path) -> None:
    # After a kill -9 the pid may be reused by an unrelated process: the port must answer too.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    write_run_file(tmp_path, RunInfo(url=f"http://127.0.0.1:{port}", pid=os.getpid(), bundle=None, api_key=None))
    assert running_mocks(tmp_path) == []
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        info = RunInfo(url=f"http://127.0.0.1:{port}", pid=os.getpid(), bundle=None, api_key=None)
        write_run_file(tmp_path, info)
        assert running_mocks(tmp_path) == [info]


def test_an_unreadable_run_file_is_dropped(tmp_path: Path) -> None:
    path = run_file(tmp_path, 9)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    run_file(tmp_path, 10).write_text(json.dumps({"url": "http://127.0.0.1:10", "pid": "many"}))
    assert running_mocks(tmp_path) == []
    assert list(path.parent.iterdir()) == []


def test_env_refuses_a_port_that_is_not_one(tmp_path: Path) -> None:
    done = _env(tmp_path, "--port", "70000")
    assert done.returncode == 2 and "70000 is not in 0-65535" in done.stderr
