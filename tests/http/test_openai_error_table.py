"""The OpenAI error answers take type and code from the spec's table (``x-contract.error_codes``), over HTTP.

A copy of the spec with a changed table must change the answers: the table
is read, not repeated in the code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import yaml

from mockserver.config import Settings
from mockserver.spec.loader import default_spec_paths
from mockserver.testing import MockServer

TEXT = "black-forest-labs/flux-kontext-max/text-to-image"
KEY = "table-key"


def _answers(mock: MockServer) -> dict[int, dict[str, Any]]:
    """One error answer per status of the table: an invalid body, no key, then each injected fault."""
    url = f"{mock.url}/v1/images/generations"
    auth = {"Authorization": f"Bearer {KEY}"}
    answers = {
        400: httpx.post(url, json={"model": TEXT}, headers=auth),  # no prompt
        401: httpx.post(url, json={"model": TEXT, "prompt": "x"}),
    }
    for status in (408, 429, 500, 504):
        answers[status] = httpx.post(
            url, json={"model": TEXT, "prompt": "x"}, headers={**auth, "x-mock-fail-status": str(status)}
        )
    found: dict[int, dict[str, Any]] = {}
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        error: dict[str, Any] = answer.json()["error"]
        found[status] = error
    return found


def _table(path: Path) -> dict[int, dict[str, str]]:
    table: dict[int, dict[str, str]] = yaml.safe_load(path.read_text())["x-contract"]["error_codes"]
    return table


def test_each_status_answers_with_the_type_and_code_of_the_spec() -> None:
    openai_spec = next(p for p in default_spec_paths() if p.name == "openai-images.yaml")
    with MockServer(Settings(port=0, time_scale=0, api_key=KEY)) as mock:
        answers = _answers(mock)
    table = _table(openai_spec)
    assert sorted(answers) == sorted(table)  # every row of the table is exercised
    assert {s: {"type": e["type"], "code": e["code"]} for s, e in answers.items()} == table


def test_a_changed_table_changes_the_answers(tmp_path: Path) -> None:
    copies = []
    for path in default_spec_paths():  # the whole folder: the documents refer to each other
        copies.append(Path(shutil.copy(path, tmp_path / path.name)))
    openai_copy = tmp_path / "openai-images.yaml"
    doc = yaml.safe_load(openai_copy.read_text())
    doc["x-contract"]["error_codes"] = {s: {"type": f"type-{s}", "code": f"code-{s}"} for s in _table(openai_copy)}
    openai_copy.write_text(yaml.safe_dump(doc, sort_keys=False))
    with MockServer(Settings(port=0, time_scale=0, api_key=KEY, spec_paths=tuple(copies))) as mock:
        answers = _answers(mock)
    assert {s: (e["type"], e["code"]) for s, e in answers.items()} == {s: (f"type-{s}", f"code-{s}") for s in answers}
