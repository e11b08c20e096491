"""``flux-mock check``: well-behaved clients pass; each kind of bad client fails with a precise report."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.config import Settings
from mockserver.kit.client_check import run_check

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
# Jobs take ~0.1 s: long enough for a tight polling loop to be seen, short enough for a fast suite.
SETTINGS = Settings(port=0, time_scale=0.02, min_poll_interval=0.02)  # margin for a loaded CI machine
TIGHT = Settings(port=0, time_scale=0.2, min_poll_interval=0.5)
# Jobs move only when polled, so a result fetched without polling is early however slow the machine.
STEPPED = Settings(port=0, step_mode=True, min_poll_interval=0.02)


def check(script: str, settings: Settings = SETTINGS, *, strict: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check([sys.executable, str(CLIENTS / script)], settings, strict=strict, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize("script", ["good_fal_client.py", "good_httpx.py"])
def test_well_behaved_client_passes(script: str) -> None:
    code, report = check(script)
    assert code == 0, report
    assert "flux-mock check passed" in report
    assert "0 errors, 0 warnings, 0 notes" in report


@pytest.mark.parametrize(
    ("script", "lines"),
    [
        (
            "wrong_type.py",
            [
                "POST /fal-ai/flux-pro/kontext/max/text-to-image (submitKontextMaxTextToImage) -> 422",
                "error   [schema.type_error.integer] field 'num_images': value is not a valid integer",
            ],
        ),
        (
            "unknown_field.py",
            [
                "POST /fal-ai/flux-pro/kontext/max/text-to-image (submitKontextMaxTextToImage) -> 200",
                "warning [schema.unknown-field] field 'negative_prompt': field 'negative_prompt' is not in "
                "submitKontextMaxTextToImage's input schema; the server ignores it",
            ],
        ),
        (
            "missing_required.py",
            [
                "POST /fal-ai/flux-pro/kontext/max (submitKontextMax) -> 422",
                "error   [schema.value_error.missing] field 'image_url': field required",
            ],
        ),
        (
            "result_too_early.py",
            [
                "(getRequestResult) -> 400",
                "error   [queue.result-before-completed]: result fetched before a status answer said COMPLETED "
                "(the mock answered 400)",
            ],
        ),
        ("polls_too_fast.py", ["(getRequestStatus) -> 202, and", "error   [queue.poll-too-fast]: status polled"]),
        ("builds_urls.py", ["-> 404", "error   [queue.url-not-followed]: /fal-ai/flux-pro/kontext/max/text-to-image"]),
    ],
)
def test_misbehaving_client_fails_with_a_precise_report(script: str, lines: list[str]) -> None:
    # A tight polling loop is far faster than 0.5 s between polls, however loaded the machine.
    # Only a strict check fails on a warning (the unknown field).
    settings = {"polls_too_fast.py": TIGHT, "result_too_early.py": STEPPED}.get(script, SETTINGS)
    code, report = check(script, settings, strict=True)
    assert code == 1, report
    assert "flux-mock check FAILED" in report
    for line in lines:
        assert line in report


def test_only_the_bad_request_is_reported() -> None:
    _, report = check("wrong_type.py")
    assert report.count("request #") == 1
    assert "1 requests, 1 errors, 0 warnings" in report


def test_warnings_fail_only_a_strict_check() -> None:
    code, report = check("unknown_field.py")
    assert code == 0, report
    assert "flux-mock check passed" in report and "0 errors, 1 warnings" in report
    code, report = check("unknown_field.py", strict=True)
    assert code == 1, report
    assert "flux-mock check FAILED (strict: warnings fail)" in report


@pytest.mark.parametrize("script", ["wrong_type.py", "missing_required.py", "result_too_early.py", "builds_urls.py"])
def test_errors_fail_a_default_check(script: str) -> None:
    code, report = check(script)
    assert code == 1, report


def test_a_failing_command_fails_the_check_with_its_code() -> None:
    code, report = check("crashes.py")
    assert code == 3
    assert "flux-mock check FAILED" in report and "command exited 3" in report


def test_poll_interval_is_configurable() -> None:
    # The same polite client (0.1 s between polls) breaks a 1-second minimum.
    code, report = check("good_httpx.py", Settings(port=0, time_scale=0.1, min_poll_interval=1.0))
    assert code == 1
    assert "[queue.poll-too-fast]" in report and "wait at least 1s" in report


def test_cli_runs_the_command_with_the_mock_in_its_environment() -> None:
    env = "os.environ['FLUX_MOCK_URL'], os.environ['OPENAI_BASE_URL'], os.environ['FAL_KEY']"
    script = f"import os; print('URL', {env})"
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "check", "--time-scale", "0", "--", sys.executable, "-c", script],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    url_line = next(line for line in done.stdout.splitlines() if line.startswith("URL "))
    _, base, openai_base, key = url_line.split()
    assert base.startswith("http://127.0.0.1:") and openai_base == f"{base}/v1" and key == "flux-mock"
    assert "flux-mock check passed: 0 requests" in done.stdout


def test_cli_reports_and_fails_a_bad_client() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "check", "--time-scale", "0", "--", sys.executable,
         str(CLIENTS / "wrong_type.py")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "[schema.type_error.integer] field 'num_images'" in done.stdout


def test_missing_command_is_a_usage_error() -> None:
    assert run_check([], SETTINGS, out=io.StringIO()) == 2
