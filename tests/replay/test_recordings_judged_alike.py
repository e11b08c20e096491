"""A cassette and a HAR file of the same traffic get the same verdicts from check and conformance.

The session's recording (tests/replay/conftest.py) was made by a client talking
to the recording proxy, with a HAR writer on that client: the HAR file holds what
the client saw (the recorder's links, the images it fetched), the cassette what
the upstream answered. Both must be judged alike, clean as recorded and failing
alike once an answer drifts.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from contract_tests.recorded_conformance import run_recorded_conformance
from mockserver.cli import main
from mockserver.kit.recorded_check import recorded_entries
from mockserver.kit.recordings import read_recording
from mockserver.spec.loader import default_spec
from tests.replay.recorded_cassette import Recording

MIN_POLL = 0.0  # the recording polls back to back: the rule is not what this compares


def verdicts(source: Path) -> dict[tuple[str, str], list[list[str]]]:
    """Each recorded call's rule ids, calls told apart by method and path (files aside: only a
    HAR file holds the client's image downloads, which the recorder served itself)."""
    found: dict[tuple[str, str], list[list[str]]] = {}
    for entry in recorded_entries(read_recording(source, default_spec().hosts), default_spec(), MIN_POLL):
        if entry.operation != "getFile":
            found.setdefault((entry.method, entry.path), []).append(sorted(v.rule for v in entry.violations))
    return found


def conformance(source: Path) -> tuple[int, str]:
    out = io.StringIO()
    return run_recorded_conformance(source, default_spec(), out=out), out.getvalue()


def test_check_judges_both_recordings_alike(recording: Recording) -> None:
    from_har, from_cassette = verdicts(recording.har), verdicts(recording.directory)
    assert from_har == from_cassette
    assert len(from_cassette) >= 8  # submits, polls, stream, result, OpenAI calls
    # The one mistake the recording client made on purpose: a status poll for an id it never got.
    flagged = {call: rules for call, rules in from_cassette.items() if any(rules)}
    assert flagged == {("GET", recording.unknown_status): [["response.rejected"]]}
    for option, source in (("--cassette", recording.directory), ("--har", recording.har)):
        assert main(["check", option, str(source), "--min-poll-interval", "0"]) == 1


def test_conformance_passes_both_recordings(recording: Recording) -> None:
    har_code, har_report = conformance(recording.har)
    cassette_code, cassette_report = conformance(recording.directory)
    assert (har_code, cassette_code) == (0, 0), har_report + cassette_report
    assert "0 errors" in har_report and "0 errors" in cassette_report


def test_a_drifted_answer_fails_both_naming_the_field(recording: Recording, tmp_path: Path) -> None:
    cassette = Path(shutil.copytree(recording.directory, tmp_path / "cassette"))
    index = json.loads((cassette / "index.json").read_text())
    submit = next(line for line in index["exchanges"] if line["method"] == "POST" and line["status"] == 200)
    exchange = cassette / submit["file"]
    doc = json.loads(exchange.read_text())
    doc["response"]["body"]["json"]["id"] = doc["response"]["body"]["json"].pop("request_id")
    exchange.write_text(json.dumps(doc))

    har = tmp_path / "drifted.har"
    log = json.loads(recording.har.read_text())
    entry = next(e for e in log["log"]["entries"] if e["request"]["url"].endswith(submit["path"]))
    answer = json.loads(entry["response"]["content"]["text"])
    answer["id"] = answer.pop("request_id")
    entry["response"]["content"]["text"] = json.dumps(answer)
    har.write_text(json.dumps(log))

    for drifted in (cassette, har):
        code, report = conformance(drifted)
        assert code == 1, report
        assert "'request_id' is a required property" in report
    assert main(["conformance", "--cassette", str(cassette)]) == 1
    assert main(["conformance", "--har", str(har)]) == 1


def test_each_option_takes_its_own_kind_of_file(recording: Recording) -> None:
    assert main(["conformance", "--cassette", str(recording.har)]) == 2
    assert main(["conformance", "--har", str(recording.directory)]) == 2
    assert main(["check", "--cassette", str(recording.har)]) == 2
    assert main(["check", "--har", str(recording.directory)]) == 2
    assert main(["check", "--cassette", str(recording.directory), "--", "true"]) == 2
