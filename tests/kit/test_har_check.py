"""``flux-mock check --har``: recorded traffic is judged by the live check's rules, in its words."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.cli import main
from mockserver.kit.client_check import read_all
from mockserver.kit.recorded_check import recorded_entries, run_recorded_check
from mockserver.kit.traffic_file import TrafficFileError, read_har
from mockserver.spec.loader import default_spec
from mockserver.testing import Entry, MockServer, Settings
from tests.har_writer import HarWriter

SETTINGS = Settings(port=0, time_scale=0.02, min_poll_interval=0.02)
HEADERS = {"Authorization": "Key test:secret"}
TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "fal-ai/flux-pro/kontext/max"
OPENAI_MODEL = "black-forest-labs/flux-kontext-max/text-to-image"


def record(drive: Any, tmp_path: Path, *, base64_answers: bool = False) -> tuple[Path, list[Entry]]:
    """Drive a real mock, writing the traffic to a HAR file; also what the live journal said of it."""
    writer = HarWriter(base64_answers=base64_answers)
    with MockServer(SETTINGS) as mock, httpx.Client(headers=HEADERS, event_hooks=writer.hooks()) as client:
        drive(client, mock.url)
        live = read_all(mock)
    return writer.save(tmp_path / "traffic.har"), live


def good_fal(client: httpx.Client, url: str) -> None:
    ticket = client.post(f"{url}/{TEXT}", json={"prompt": "a lighthouse"}).json()
    while client.get(ticket["status_url"]).json()["status"] != "COMPLETED":
        time.sleep(0.05)
    client.get(ticket["response_url"]).raise_for_status()


def good_openai(client: httpx.Client, url: str) -> None:
    answer = client.post(f"{url}/v1/images/generations", json={"model": OPENAI_MODEL, "prompt": "a lighthouse"})
    assert answer.status_code == 200, answer.text


def good_both(client: httpx.Client, url: str) -> None:
    good_fal(client, url)
    good_openai(client, url)


def check_har(path: Path, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_recorded_check(path, default_spec(), SETTINGS.min_poll_interval, strict="--strict" in extra, out=out)
    return code, out.getvalue()


def test_good_client_traffic_passes(tmp_path: Path) -> None:
    path, _ = record(good_both, tmp_path)
    code, report = check_har(path)
    assert code == 0, report
    assert "flux-mock check passed" in report
    assert " 0 errors, 0 warnings" in report
    assert main(["check", "--har", str(path)]) == 0


def test_missing_required_field_fails_like_the_live_check(tmp_path: Path) -> None:
    path, live = record(lambda c, u: c.post(f"{u}/{EDIT}", json={"prompt": "edit what?"}), tmp_path)
    code, report = check_har(path)
    assert code == 1, report
    assert "field 'image_url': field required" in report
    said = [(v.rule, v.field) for e in live for v in e.violations]
    recorded = recorded_entries(read_har(path), default_spec(), SETTINGS.min_poll_interval)
    assert [(v.rule, v.field) for e in recorded for v in e.violations] == said
    assert f"[{said[0][0]}] field 'image_url'" in report


def test_result_before_completed_and_fast_polls_fail(tmp_path: Path) -> None:
    def bad(client: httpx.Client, url: str) -> None:
        ticket = client.post(f"{url}/{TEXT}", json={"prompt": "a lighthouse"}).json()
        client.get(ticket["status_url"])
        client.get(ticket["status_url"])
        client.get(ticket["response_url"])

    path, live = record(bad, tmp_path)
    code, report = check_har(path)
    assert code == 1, report
    assert "[queue.poll-too-fast]" in report
    assert "[queue.result-before-completed]" in report
    assert {"queue.poll-too-fast", "queue.result-before-completed"} <= {v.rule for e in live for v in e.violations}


def test_base64_answers_are_decoded(tmp_path: Path) -> None:
    path, _ = record(good_fal, tmp_path, base64_answers=True)
    submit = json.loads(path.read_text())["log"]["entries"][0]["response"]["content"]
    assert submit["encoding"] == "base64"
    answer = json.loads(read_har(path)[0].response_body)
    assert answer["request_id"] == json.loads(base64.b64decode(submit["text"]))["request_id"]
    # The client rules followed the decoded submit answer: the returned URLs, no url-not-followed.
    assert check_har(path)[0] == 0


def test_times_are_seconds_since_the_first_entry(tmp_path: Path) -> None:
    doc = {"log": {"entries": [entry("2026-01-01T00:00:01.500Z"), entry("2026-01-01T00:00:00Z")]}}
    path = tmp_path / "t.har"
    path.write_text(json.dumps(doc))
    assert [r.at for r in read_har(path)] == [1.5, 0.0]


def entry(started: str) -> dict[str, Any]:
    return {
        "startedDateTime": started,
        "request": {"method": "GET", "url": "https://queue.fal.run/x", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"mimeType": "text/plain"}},
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json {", "is not JSON"),
        ('{"log": {"entries": []}, "deep": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"log": {}}', "no log.entries"),
        ('{"log": {"entries": [{"startedDateTime": "2026-01-01T00:00:00Z", "response": {}}]}}', "no request"),
        (json.dumps({"log": {"entries": [entry("yesterday")]}}), "startedDateTime"),
        (
            json.dumps({"log": {"entries": [entry("2026-01-01T00:00:00Z") | {"response": {
                "status": 200, "content": {"text": "@@", "encoding": "base64"}}}]}}),
            "not valid base64",
        ),
        (json.dumps({"log": {"entries": [entry("2026-01-01T00:00:00Z") | {"request": {
            "method": "GET", "url": "http://[::1/status"}}]}}), "request.url is not a URL"),
        (json.dumps({"log": {"entries": [entry("2026-01-01T00:00:00Z") | {"response": {"status": -5}}]}}),
         "not an HTTP status: -5"),
        (json.dumps({"log": {"entries": [entry("2026-01-01T00:00:00Z") | {"response": {"status": 1000}}]}}),
         "not an HTTP status: 1000"),
    ],
)
def test_malformed_har_exits_2_with_a_message(
    tmp_path: Path, text: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.har"
    path.write_text(text)
    with pytest.raises(TrafficFileError, match=words):
        read_har(path)
    assert main(["check", "--har", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_har_and_a_command_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.har"
    path.write_text(json.dumps({"log": {"entries": []}}))
    assert main(["check", "--har", str(path), "--", "true"]) == 2
