"""The flux-mock command, as a user runs it: a real process on a real port."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.cli import build_parser, settings_from
from mockserver.config import Settings


def _url(line: str) -> str:
    match = re.search(r"http://\S+", line)
    assert match, line
    return match.group(0)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mockserver", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = _start("serve", "--port", "0", "--time-scale", "0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield process, line
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_prints_the_url_it_listens_on_and_serves(served: tuple[subprocess.Popen[str], str]) -> None:
    _, line = served
    assert "listening on http://127.0.0.1:" in line
    url = _url(line)
    assert httpx.get(f"{url}/_mock/health").json()["status"] == "ok"
    result = httpx.post(f"{url}/run/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "cli"}).json()
    assert result["images"][0]["width"] == 1024


def test_options_without_a_command_mean_serve() -> None:
    process = _start("--port", "0", "--api-key", "k")
    try:
        assert process.stdout is not None
        url = _url(process.stdout.readline())
        assert httpx.post(f"{url}/fal-ai/flux-pro/kontext", json={"prompt": "p"}).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--time-scale", "-1"], "argument --time-scale: -1 must be >= 0"),
        (["serve", "--time-scale", "fast"], "argument --time-scale: 'fast' is not a number"),
        (["serve", "--concurrency", "0"], "concurrency"),
        (["serve", "--spec", "/no/such/spec.yaml"], "cannot read spec"),
        (["serve", "--port", "not-a-port"], "argument --port: 'not-a-port' is not a whole number"),
        (["serve", "--port", "70000"], "argument --port: 70000 is not in 0-65535"),
        (["serve", "--journal-max-entries", "0"], "argument --journal-max-entries: 0 must be >= 1"),
        (["serve", "--log-level", "loud"], "argument --log-level: invalid choice: 'loud'"),
        (["conformance", "--target", "http://127.0.0.1:9", "--poll-interval", "soon"],
         "argument --poll-interval: 'soon' is not a number"),
        (["serve", "--max-upload-mb", "500", "--max-disk-mb", "100"], "the largest upload must fit on disk"),
        (["serve", "--scenarios", "/no/such/rules.yaml"],
         "flux-mock: cannot read scenario file /no/such/rules.yaml: No such file or directory"),
    ],
)
def test_bad_options_exit_2_with_one_clear_line(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_journal_size_option_reaches_the_settings() -> None:
    args = build_parser().parse_args(["serve", "--journal-max-entries", "7"])
    assert settings_from(args).journal_max_entries == 7
    assert settings_from(build_parser().parse_args(["serve"])).journal_max_entries == Settings().journal_max_entries


def test_upload_options_reach_the_settings(tmp_path: Path) -> None:
    args = ["serve", "--max-upload-mb", "200", "--max-disk-mb", "300", "--state-dir", str(tmp_path)]
    settings = settings_from(build_parser().parse_args(args))
    assert (settings.max_upload_bytes, settings.max_disk_bytes) == (200 * 1024 * 1024, 300 * 1024 * 1024)
    assert settings.upload_dir == tmp_path / "uploads"  # large uploads live in the state directory
    assert settings.max_body_bytes == Settings().max_body_bytes  # JSON bodies keep their own limit


def test_a_port_in_use_is_reported(served: tuple[subprocess.Popen[str], str]) -> None:
    port = _url(served[1]).rsplit(":", 1)[-1]
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", port], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "cannot listen" in done.stderr
