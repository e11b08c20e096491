"""The client rules calibrated against the JavaScript clients: no false verdicts.

`@fal-ai/client` (through the proxy route) and the `openai` npm package run
through a plain mock and every ready-made scenario in fixtures/scenarios/,
one node process per scenario making all the calls. Whatever the scenario made
the mock answer, the journal holds no error, and no warning beyond the one
rule these clients break by design (they retry a 429 on their own backoff).
The packages come from the session's one `npm install` (``js_project``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.kit.client_check import read_all
from mockserver.kit.journal import ERROR, INFO, WARNING
from mockserver.testing import MockServer
from tests.calibration import ERROR_EFFECTS, SCENARIOS, fired_effects, move_time_while, severities
from tests.helpers import write_script

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 120
# Prompts that meet failing-model.yaml's rules and one that misses them (but meets
# webhook-payload-error.yaml's); few, as each 429 costs a second.
PROMPTS = ("crash the model", "nsfw sketch", "an unserialisable paper boat")
BY_DESIGN = {"http.retry-after-ignored"}

# Each call is made once; the clients' own retries handle what the scenario injects.
SCRIPT = """
import { fal } from "@fal-ai/client";
import OpenAI from "openai";

const [proxyUrl, base, promptsJson] = process.argv.slice(2);
fal.config({ proxyUrl: { url: proxyUrl, when: "always" } });
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "js-key", maxRetries: 4, timeout: 20000 });
const out = { fal: { ok: 0, failed: [] }, openai: { ok: 0, failed: [] } };

async function attempt(side, call) {
  try {
    await call();
    out[side].ok += 1;
  } catch (err) {
    out[side].failed.push(`${err.status ?? ""} ${String(err.message ?? err)}`.trim());
  }
}

for (const prompt of JSON.parse(promptsJson)) {
  await attempt("fal", () => fal.subscribe("fal-ai/flux-pro/kontext/max/text-to-image", {
    input: { prompt }, logs: true, pollInterval: 100,
  }));
  await attempt("openai", () => openai.images.generate({
    model: "black-forest-labs/flux-kontext-max/text-to-image", prompt, aspect_ratio: "16:9",
  }));
}
console.log(JSON.stringify(out));
"""

RUNS: list[Path | None] = [None, *SCENARIOS]


@pytest.fixture(scope="module")
def calibrate_script(js_project: Path) -> Path:
    return write_script(js_project, "calibrate.mjs", SCRIPT)


@pytest.fixture
def scenario_mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with MockServer(time_scale=0, scenarios_path=request.param) as mock:
        yield mock


def _run_node(script: Path, mock: MockServer) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None
    done = threading.Event()
    ticker = move_time_while(mock, done)  # slow-queue holds jobs for simulated time
    try:
        ran = subprocess.run(
            [node, script.name, f"{mock.url}/api/fal/proxy", mock.url, json.dumps(PROMPTS)],
            cwd=script.parent, capture_output=True, text=True, timeout=RUN_TIMEOUT,
        )
    finally:
        done.set()
        ticker.join()
    assert ran.returncode == 0, ran.stderr
    out: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.parametrize("scenario_mock", RUNS, ids=["plain", *(p.stem for p in SCENARIOS)], indirect=True)
def test_js_clients_get_no_false_verdicts(calibrate_script: Path, scenario_mock: MockServer) -> None:
    out = _run_node(calibrate_script, scenario_mock)
    entries = read_all(scenario_mock)
    assert out["fal"]["ok"] and out["openai"]["ok"], out  # each client got somewhere
    if scenario_mock.settings.scenarios_path is None:  # nothing injected: every call succeeds
        assert (out["fal"]["ok"], out["openai"]["ok"]) == (len(PROMPTS), len(PROMPTS)), out
    assert any(e.path.startswith("/v1/") for e in entries) and any(e.path == "/api/fal/proxy" for e in entries)
    assert severities(entries, ERROR) == []
    warned = {v.rule for e in entries for v in e.violations if v.severity == WARNING}
    assert warned <= BY_DESIGN, severities(entries, WARNING)
    if scenario_mock.settings.scenarios_path is not None:
        fired = fired_effects(scenario_mock)
        assert fired, "the scenario never fired"
        if fired & ERROR_EFFECTS:  # what it made the mock answer was noted as the mock's doing
            assert severities(entries, INFO)
