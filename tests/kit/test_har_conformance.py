"""``flux-mock conformance --har``: recorded answers judged against the spec, offline."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from contract_tests.recorded_conformance import run_recorded_conformance
from mockserver.cli import main
from mockserver.spec.loader import default_spec
from tests.kit.test_har_check import entry, good_both, good_fal, record


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
