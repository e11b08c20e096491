"""The client rules calibrated against the official clients: no false verdicts.

Each official Python client is driven through every ready-made scenario in
fixtures/scenarios/ against a real mock; whatever the scenario made the mock
answer, the journal holds no error, and no warning beyond the one rule
fal-client breaks by design (it retries a 429 on its own backoff, whatever
Retry-After says). The scenarios must have fired, or the test proves nothing.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import fal_client
import fal_client.client
import httpx
import openai
import pytest

from mockserver.config import Settings
from mockserver.kit.client_check import read_all, run_check
from mockserver.kit.journal import ERROR, INFO, WARNING
from mockserver.testing import MockServer, point_fal_client
from tests.calibration import ERROR_EFFECTS, SCENARIOS, fired_effects, move_time_while, severities

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
OPENAI_MODEL = "black-forest-labs/flux-kontext-max/text-to-image"
# Prompts that meet failing-model.yaml's rules and that miss them; the last meets webhook-payload-error.yaml's.
PROMPTS = (
    "a calm lake", "crash the model", "a paper boat", "nsfw sketch", "a lighthouse", "a fox", "an unserialisable kite"
)
# What each client may be warned about: fal-client ignores Retry-After by design.
BY_DESIGN = {"fal-sync": {"http.retry-after-ignored"}, "fal-async": {"http.retry-after-ignored"}, "openai": set()}


@pytest.fixture
def short_backoffs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The clients' own retry pauses are real sleeps; shorter ones keep the suite fast. fal-client's
    # then break Retry-After more; the openai SDK's are only its pauses where an answer gives no
    # hint (a failed job's 500), as it reads the hint first.
    monkeypatch.setattr(fal_client.client, "BASE_DELAY", 0.01)
    monkeypatch.setattr(fal_client.client, "MAX_DELAY", 0.05)
    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.setattr(openai._base_client, "MAX_RETRY_DELAY", 0.05)


def _fal_sync(mock: MockServer, slow: bool) -> int:
    client = fal_client.SyncClient(key="k", default_timeout=10)
    succeeded = 0
    for prompt in PROMPTS[: 1 if slow else None]:
        try:
            # On a slow queue the client gives up: it cancels, and its poller then reads the cancelled result.
            client.subscribe(TEXT, {"prompt": prompt}, client_timeout=1.1 if slow else None, with_logs=True)
            succeeded += 1
        except (fal_client.client.FalClientHTTPError, fal_client.client.FalClientTimeoutError, httpx.HTTPError):
            pass
    if slow:  # the poller of a timed-out subscribe runs on: wait for its last read, the cancelled result
        _wait_for(lambda: any(e.operation == "getRequestResult" for e in read_all(mock)))
    return succeeded


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    pause = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        pause.wait(0.02)


def _fal_async(mock: MockServer, slow: bool) -> int:
    async def run() -> int:
        client = fal_client.AsyncClient(key="k", default_timeout=10)
        succeeded = 0
        for prompt in PROMPTS[: 1 if slow else None]:
            try:
                await client.subscribe(TEXT, {"prompt": prompt}, client_timeout=1.1 if slow else None)
                succeeded += 1
            except (fal_client.client.FalClientHTTPError, fal_client.client.FalClientTimeoutError, httpx.HTTPError):
                pass
        return succeeded

    return asyncio.run(run())


def _openai(mock: MockServer, slow: bool) -> int:
    done = threading.Event()
    ticker = move_time_while(mock, done) if slow else None
    succeeded = 0
    try:
        with openai.OpenAI(base_url=f"{mock.url}/v1", api_key="k", max_retries=4, timeout=10) as client:
            for prompt in PROMPTS * 2:
                try:
                    client.images.generate(model=OPENAI_MODEL, prompt=prompt, n=1, extra_body={"aspect_ratio": "16:9"})
                    succeeded += 1
                except openai.APIError:
                    pass
    finally:
        done.set()
        if ticker is not None:
            ticker.join()
    return succeeded


# Pairs where the scenario has nothing to do: prompt rules do not match /v1 bodies (the mock finds
# no prompt there) and failing-model's random draws miss these few requests; an exhausted fal
# balance and fal's safety checker (by safety_tolerance, a fal field) concern fal's APIs only.
FAL_ONLY = {
    ("openai", name) for name in ("failing-model", "webhook-payload-error", "exhausted-balance", "flagged-output")
}

CLIENTS: dict[str, Callable[[MockServer, bool], int]] = {
    "fal-sync": _fal_sync, "fal-async": _fal_async, "openai": _openai,
}


@pytest.fixture
def scenario_mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with MockServer(time_scale=0, scenarios_path=request.param) as mock:
        yield mock


@pytest.mark.slow
@pytest.mark.usefixtures("short_backoffs")
@pytest.mark.parametrize("scenario_mock", SCENARIOS, ids=[p.stem for p in SCENARIOS], indirect=True)
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_official_clients_get_no_false_verdicts(scenario_mock: MockServer, client: str) -> None:
    path = Path(str(scenario_mock.settings.scenarios_path))
    slow = path.stem == "slow-queue"
    with point_fal_client(scenario_mock.url):
        CLIENTS[client](scenario_mock, slow)
    entries = read_all(scenario_mock)
    assert entries
    assert severities(entries, ERROR) == []
    warned = {v.rule for e in entries for v in e.violations if v.severity == WARNING}
    assert warned <= BY_DESIGN[client], severities(entries, WARNING)
    fired = fired_effects(scenario_mock)
    assert fired or (client, path.stem) in FAL_ONLY, "the scenario never fired"
    if fired & ERROR_EFFECTS:  # what it made the mock answer was noted as the mock's doing
        assert severities(entries, INFO)


def test_subscribe_with_client_timeout_is_not_blamed_for_the_cancelled_result() -> None:
    # slow-queue holds the job; the client gives up, cancels, and its poller reads the result.
    path = next(p for p in SCENARIOS if p.stem == "slow-queue")
    with MockServer(time_scale=0, scenarios_path=path) as mock, point_fal_client(mock.url):
        _fal_sync(mock, slow=True)
        entries = read_all(mock)
    rules = [v.rule for e in entries for v in e.violations]
    assert "queue.result-after-cancel" in rules
    assert "response.rejected" not in rules


# ---- under `flux-mock check --tls`: an unmodified fal program reaches only the mock --------------

FAL_PROGRAM = """
import fal_client
result = fal_client.subscribe("fal-ai/flux-pro/kontext/max/text-to-image", {"prompt": "a fox"}, with_logs=True)
url = result["images"][0]["url"]
assert url.startswith("https://127.0.0.1:"), url
print("OK", url)
"""


def test_an_unmodified_fal_program_works_under_check_tls(tmp_path: Path) -> None:
    script = tmp_path / "program.py"
    script.write_text(FAL_PROGRAM)
    out = io.StringIO()
    code = run_check([sys.executable, str(script)], Settings(port=0, time_scale=0), tls_state_dir=tmp_path, out=out)
    report = out.getvalue()
    assert code == 0, report
    assert "mock on https://127.0.0.1:" in report
    assert "flux-mock check passed: 3 requests, 0 errors, 0 warnings, 0 notes" in report


def test_check_tls_gives_the_command_what_flux_mock_env_prints(tmp_path: Path) -> None:
    names = ["FAL_RUN_HOST", "FAL_QUEUE_RUN_HOST", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
             "NODE_EXTRA_CA_CERTS", "OPENAI_BASE_URL", "FAL_KEY", "OPENAI_API_KEY"]
    seen = tmp_path / "seen.json"
    script = tmp_path / "show.py"
    dump = f"json.dump({{n: os.environ.get(n) for n in {names!r}}}, open({str(seen)!r}, 'w'))"
    script.write_text(f"import json, os\n{dump}\n")
    out = io.StringIO()
    code = run_check([sys.executable, str(script)], Settings(port=0), tls_state_dir=tmp_path, out=out)
    assert code == 0, out.getvalue()
    env = json.loads(seen.read_text())
    host = out.getvalue().split("mock on https://", 1)[1].split(";", 1)[0]
    assert (env["FAL_QUEUE_RUN_HOST"], env["FAL_RUN_HOST"]) == (host, f"{host}/run")
    assert env["OPENAI_BASE_URL"] == f"https://{host}/v1"
    bundle = str(tmp_path / "tls" / "bundle.pem")
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == env["CURL_CA_BUNDLE"] == bundle
    assert Path(env["NODE_EXTRA_CA_CERTS"]).is_file()
