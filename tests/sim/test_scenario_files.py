"""Scenario files: loading at start-up, the ready-made ones by name, and errors that name only the mistake."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from mockserver.cli import main
from mockserver.sim.scenarios import ScenarioError
from mockserver.testing import MockServer
from tests.faults_helpers import TEXT, rules

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
BODY = {"prompt": "a lighthouse", "seed": 1}


def test_rules_from_a_file_and_reset_to_them(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [{"id": "boom", "effect": {"type": "error", "status": 500}}]}))
    with MockServer(time_scale=0, scenarios_path=path) as server:
        assert httpx.post(f"{server.url}/{TEXT}", json=BODY).status_code == 500
        httpx.delete(f"{server.url}/_mock/scenarios")
        assert httpx.post(f"{server.url}/{TEXT}", json=BODY).status_code == 200
        restored = httpx.post(f"{server.url}/_mock/scenarios/reset").json()["rules"]
        assert [r["id"] for r in restored] == ["boom"]
        assert httpx.post(f"{server.url}/{TEXT}", json=BODY).status_code == 500


@pytest.mark.parametrize(
    "text",
    ["rules: [{effect: {type: nope}}]", "rules: [{effect: {type: drop}, match: {prompt: '('}}]", "[: not yaml", "{}"],
)
def test_bad_scenario_files_stop_the_server_at_start(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError):
        MockServer(scenarios_path=path)
    assert main(["serve", "--port", "0", "--scenarios", str(path)]) == 2
    assert "flux-mock:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["rate-limited", "flaky-ingress", "slow-queue", "failing-model", "webhook-payload-error"]
)
def test_ready_made_scenarios_load(name: str) -> None:
    with MockServer(time_scale=0, scenarios_path=FIXTURES / f"{name}.yaml") as server:
        assert rules(server.url)


def test_webhook_payload_error_picks_prompts_by_their_word() -> None:
    prompts = {"an Unserialisable kite": True, "一只不可序列化的风筝": True, "a kite": False}
    with MockServer(time_scale=0, scenarios_path="webhook-payload-error") as server:
        for prompt, marked in prompts.items():
            ticket = httpx.post(f"{server.url}/{TEXT}", json={"prompt": prompt}).json()
            job = server.context.queue.jobs.get(ticket["request_id"])
            assert job is not None and job.unserialisable_output is marked, prompt



# A rule with one mistake gets that mistake only: no neighbour of it called "extra".
ONE_MISTAKE = [
    ({"effect": {"type": "eror", "status": 500}}, [["effect", "type"]]),
    ({"match": {"methd": "GET"}, "effect": {"type": "drop"}}, [["match", "methd"]]),
    ({"effect": {"type": "latency"}}, [["effect", "ms"]]),
    ({"effect": {"type": "drop"}, "tims": 1}, [["tims"]]),
    ({"effect": {"type": "eror"}, "tims": 1}, [["effect", "type"], ["tims"]]),
    ({"match": {"method": 5}, "effect": {"type": "latency", "ms": 5, "x": 1}}, [["effect", "x"], ["match", "method"]]),
]


@pytest.mark.parametrize(("rule", "fields"), ONE_MISTAKE)
def test_a_rule_posted_with_mistakes_is_refused_naming_only_them(
    instant: MockServer, rule: dict[str, object], fields: list[list[str]]
) -> None:
    answer = httpx.post(f"{instant.url}/_mock/scenarios", json=rule)
    assert answer.status_code == 422
    assert [d["loc"] for d in answer.json()["detail"]] == [["body", *f] for f in fields]


@pytest.mark.parametrize(("rule", "fields"), ONE_MISTAKE)
def test_a_scenario_file_with_mistakes_names_only_them(
    tmp_path: Path, rule: dict[str, object], fields: list[list[str]]
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"rules": [rule]}))
    with pytest.raises(ScenarioError) as raised:
        MockServer(scenarios_path=path)
    assert [list(i.loc[2:]) for i in raised.value.issues] == [[0, *f] for f in fields]


def test_a_ready_made_scenario_is_found_by_its_bare_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no such file here: the name is the bundled scenario's
    for name in (Path("rate-limited"), "rate-limited.yaml"):  # a pytest marker's argument may be a str
        with MockServer(time_scale=0, scenarios_path=name) as server:
            listed = httpx.get(f"{server.url}/_mock/scenarios").json()["rules"]
            assert [r["id"] for r in listed] == [r["id"] for r in yaml.safe_load(
                (FIXTURES / "rate-limited.yaml").read_text())["rules"]]
    every = ", ".join(sorted(path.stem for path in FIXTURES.glob("*.yaml")))
    with pytest.raises(ScenarioError, match=f"nor a ready-made scenario: {re.escape(every)}"):
        MockServer(scenarios_path=Path("rate-limitd"))


def test_ready_made_scenarios_are_found_where_a_wheel_puts_them(tmp_path: Path) -> None:
    # The wheel ships fixtures/ inside the kit's package (pyproject's force-include).
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "mockserver", tmp_path / "mockserver", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "fixtures", tmp_path / "contract_tests" / "fixtures")
    probe = "from mockserver.sim.scenarios import bundled_scenarios as b; print(sorted(map(str, b().values())))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    found = [Path(p) for p in ast.literal_eval(done.stdout.strip())]
    assert [p.name for p in found] == sorted(p.name for p in FIXTURES.glob("*.yaml"))
    assert all(p.is_relative_to(tmp_path / "contract_tests" / "fixtures") for p in found), found
