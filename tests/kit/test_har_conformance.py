"""``flux-mock conformance --har``: recorded answers judged against the spec, offline."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from contract_tests.recorded_conformance import run_recorded_conformance
from mockserver.cli import main
from mockserver.spec.loader import default_spec
from tests.kit.test_har_check import TEXT, check_har, entry, good_both, good_fal, record


def conformance(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    return run_recorded_conformance(path, default_spec(), out=out), out.getvalue()


def edit_answer(path: Path, n: int, change: dict[str, object], drop: str) -> None:
    doc = json.loads(path.read_text())
    content = doc["log"]["entries"][n]["response"]["content"]
    body = json.loads(content["text"])
    del body[drop]
    content["text"] = json.dumps(body | change)
    path.write_text(json.dumps(doc))


def test_real_answers_conform(tmp_path: Path) -> None:
    path, _ = record(good_both, tmp_path)
    code, report = conformance(path)
    assert code == 0, report
    assert "0 skipped, 0 errors" in report and "response.schema" in report
    assert main(["conformance", "--har", str(path)]) == 0


@pytest.mark.parametrize(("n", "field", "renamed"), [(0, "request_id", None), (-1, "images", "pictures")])
def test_a_drifted_answer_fails_naming_the_field(tmp_path: Path, n: int, field: str, renamed: str | None) -> None:
    path, _ = record(good_fal, tmp_path)
    body = json.loads(json.loads(path.read_text())["log"]["entries"][n]["response"]["content"]["text"])
    edit_answer(path, n, {renamed: body[field]} if renamed else {}, field)
    code, report = conformance(path)
    assert code == 1, report
    assert f"'{field}' is a required property" in report
    assert main(["conformance", "--har", str(path)]) == 1


def test_unknown_paths_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.har"
    path.write_text(json.dumps({"log": {"entries": [entry("2026-01-01T00:00:00Z")]}}))
    code, report = conformance(path)
    assert code == 0, report
    assert "0 recorded answers checked, 1 skipped" in report


def test_malformed_har_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.har"
    path.write_text("[]")
    assert main(["conformance", "--har", str(path)]) == 2
    assert "no log.entries" in capsys.readouterr().err


def test_target_and_har_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["conformance", "--har", "x.har", "--target", "http://127.0.0.1:1"])
    with pytest.raises(SystemExit):
        main(["conformance"])


def good_run(client: httpx.Client, url: str) -> None:
    """fal_client.run()'s call: the run host answers the result itself."""
    client.post(f"{url}/run/{TEXT}", json={"prompt": "a lighthouse"}).raise_for_status()


def as_captured_at_fal(path: Path) -> None:
    """The entries' URLs as a capture of the real service shows them: the run host's calls at
    fal.run (the mock's /run prefix gone), the upload token at the REST host, the rest at the queue."""
    doc = json.loads(path.read_text())
    for item in doc["log"]["entries"]:
        url = httpx.URL(item["request"]["url"])
        raw = url.raw_path.decode()
        if raw.startswith("/run/"):
            real = "https://fal.run" + raw[len("/run"):]
        elif raw.startswith("/storage/"):
            real = "https://rest.fal.ai" + raw
        else:
            real = "https://queue.fal.run" + raw
        item["request"]["url"] = real
    path.write_text(json.dumps(doc))


def run_and_queue(client: httpx.Client, url: str) -> None:
    good_run(client, url)
    client.post(f"{url}/storage/auth/token?storage_type=fal-cdn-v3", json={}).raise_for_status()
    good_fal(client, url)


def test_a_capture_of_fal_s_own_hosts_is_judged_by_the_operation_of_each_host(tmp_path: Path) -> None:
    # fal.run/{endpoint} has the queue's submit path: read as that, its result would fail as a ticket.
    path, _ = record(run_and_queue, tmp_path)
    as_captured_at_fal(path)
    code, report = conformance(path)
    assert code == 0, report
    assert "0 skipped, 0 errors" in report
    code, report = check_har(path)
    assert code == 0, report
    assert " 0 errors, 0 warnings" in report


def test_a_drifted_run_host_answer_fails_naming_the_field(tmp_path: Path) -> None:
    path, _ = record(good_run, tmp_path)
    as_captured_at_fal(path)
    body = json.loads(json.loads(path.read_text())["log"]["entries"][0]["response"]["content"]["text"])
    edit_answer(path, 0, {"pictures": body["images"]}, "images")
    code, report = conformance(path)
    assert code == 1, report
    assert "'images' is a required property" in report
    assert "request_id" not in report  # judged as the run host's result, not as a queue ticket


def test_a_request_the_capture_shows_unanswered_is_not_judged_as_the_server_s(tmp_path: Path) -> None:
    # Devtools keep an aborted or blocked request with status 0: the server said nothing to judge.
    path, _ = record(good_fal, tmp_path)
    doc = json.loads(path.read_text())
    aborted = json.loads(json.dumps(doc["log"]["entries"][-1]))  # the result fetched again, a second later
    started = datetime.fromisoformat(aborted["startedDateTime"]) + timedelta(seconds=1)
    aborted["startedDateTime"] = started.isoformat()
    aborted["response"] |= {"status": 0, "statusText": "", "headers": [], "content": {"size": 0, "mimeType": ""}}
    doc["log"]["entries"].append(aborted)
    path.write_text(json.dumps(doc))
    code, report = conformance(path)
    assert code == 0, report
    assert "0 skipped, 1 without an answer, 0 errors" in report
    code, report = check_har(path)
    assert code == 0, report


def test_an_answer_the_capture_kept_decoded_is_not_decoded_again(tmp_path: Path) -> None:
    # Browsers keep a gzip answer's body decoded, its Content-Encoding header as it came.
    path, _ = record(good_both, tmp_path)
    doc = json.loads(path.read_text())
    for item in doc["log"]["entries"]:
        item["response"]["headers"] += [{"name": "Content-Encoding", "value": "gzip"},
                                        {"name": "Content-Length", "value": "3"}]
    path.write_text(json.dumps(doc))
    code, report = conformance(path)
    assert code == 0, report
    code, report = check_har(path)
    assert code == 0, report


def test_check_names_the_run_host_s_operation_for_a_call_captured_at_fal_run(tmp_path: Path) -> None:
    def bad_run(client: httpx.Client, url: str) -> None:
        assert client.post(f"{url}/run/{TEXT}", json={"seed": 1}).status_code == 422  # no prompt

    path, _ = record(bad_run, tmp_path)
    as_captured_at_fal(path)
    code, report = check_har(path)
    assert code == 1, report
    assert f"POST /run/{TEXT} (runSync)" in report, report
