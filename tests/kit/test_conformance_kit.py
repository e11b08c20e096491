"""The server conformance suite, run against the mock and against deliberately broken servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from contract_tests.cases import Case, load_cases
from contract_tests.fal_flow import FalFlow, FlowOptions
from contract_tests.openai_flow import OpenAIFlow
from contract_tests.report import ContractViolation, Findings
from contract_tests.webhook_receiver import webhook_receiver
from mockserver.kit.journal import Query
from mockserver.spec.loader import default_spec
from mockserver.spec.roles import Role
from mockserver.testing import MockServer
from tests import broken
from tests.broken import Answer, corrupting, fake_state, is_result, is_status, is_submit, nth_status_poll

SPEC = default_spec()
CASES = load_cases()
TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
OPENAI_TEXT = "black-forest-labs/flux-kontext-max/text-to-image"


def case(endpoint: str, kind: str, name: str | None = None) -> Case:
    return next(c for c in CASES if c.endpoint == endpoint and c.kind == kind and (name is None or c.name == name))


@pytest.fixture(scope="module")
def healthy() -> Iterator[MockServer]:
    with MockServer(time_scale=0.01, concurrency=1) as server:
        yield server


def run(server: MockServer, kind: str, chosen: Case) -> Findings:
    with httpx.Client(timeout=30) as client:
        if chosen.api == "openai":
            openai = OpenAIFlow(SPEC, client, server.url)
            return openai.valid(chosen) if kind == "valid" else openai.invalid(chosen)
        flow = FalFlow(SPEC, client, server.url, FlowOptions(poll_interval=0.01, timeout=20))
        if kind == "run":
            return flow.run(chosen, server.url + "/run")
        if kind == "webhook":
            with webhook_receiver() as receiver:
                return flow.webhook(chosen, receiver)
        result: Findings = getattr(flow, kind)(chosen)
        return result


# ---- against the mock ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["valid", "invalid", "cancel", "run"])
def test_mock_passes_one_case_of_each_kind_per_endpoint(healthy: MockServer, kind: str) -> None:
    for op in SPEC.models():
        assert op.model is not None
        chosen = case(op.model.endpoint_id, "invalid" if kind == "invalid" else "valid")
        findings = run(healthy, kind, chosen)
        assert findings.failures == [], findings.report()


def test_a_webhook_with_payload_error_in_place_of_the_output_passes() -> None:
    # fal's delivery for an output it cannot serialise: payload null, and the reason.
    with MockServer(time_scale=0, scenarios_path="webhook-payload-error") as server:
        chosen = replace(case(TEXT, "valid"), body={"prompt": "an unserialisable kite"})
        findings = run(server, "webhook", chosen)
        (record,) = server.context.webhooks.records.values()
        job = server.context.queue.jobs.get(record.request_id)
    assert findings.failures == [], findings.report()
    assert record.delivered and "webhook.payload" in findings.rules
    assert job is not None and job.unserialisable_output  # the delivery judged was one with payload_error


def test_a_webhook_with_a_null_payload_and_no_reason_is_refused_by_the_spec() -> None:
    operation = SPEC.model(TEXT)
    assert operation is not None
    pointer = "/webhooks/requestDone/post/requestBody/content/application~1json/schema"
    errors = list(SPEC.validator(operation.document, pointer).iter_errors({"request_id": "r", "status": "OK",
                                                                          "payload": None}))
    assert [e.message for e in errors] == ["'payload_error' is a required property"]


@pytest.mark.parametrize("kind", ["valid", "invalid"])
def test_mock_passes_every_openai_case(healthy: MockServer, kind: str) -> None:
    for chosen in [c for c in CASES if c.api == "openai" and c.kind == kind]:
        findings = run(healthy, kind, chosen)
        assert findings.failures == [], findings.report()


def test_mock_cancel_while_queued_is_legal() -> None:
    # Slow jobs and one worker: the second request is still queued when cancelled.
    with MockServer(time_scale=0.05, concurrency=1) as server:
        with httpx.Client() as client:
            client.post(f"{server.url}/{TEXT}", json={"prompt": "keeps the worker busy"})
        findings = run(server, "cancel", case(TEXT, "valid"))
        assert findings.failures == [], findings.report()
        entries, _ = server.context.journal.read(Query(method="PUT"))
        assert any(e.status == 202 for e in entries), "the cancel should have found the job still waiting"


@pytest.mark.slow
def test_full_suite_passes_against_the_mock_through_the_cli(tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    with MockServer(time_scale=0) as server:
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "conformance", "--target", server.url, "--junit", str(junit),
             "--webhooks", "--extensions", "--poll-interval", "0.02", "--poll-timeout", "60", "--", "-q"],
            capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    fal = {c.endpoint for c in CASES if c.api == "fal"}
    edits = [n for n, m in SPEC.named_models.items() if m.info.field(Role.IMAGE_INPUT)]
    # every case; per fal endpoint a cancel, a run and a webhook; per editable model an edit;
    # the model list, the extension routes and the fixture coverage
    expected = len(CASES) + 3 * len(fal) + len(edits) + 3
    assert int(suite.get("tests", "0")) == expected
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"
    # The summary counts every rule; none failed.
    summary = done.stdout.split("checks per rule", 1)[1]
    rows = {line.split()[0]: line.split()[1:4] for line in summary.splitlines()[1:] if line[:1].isalpha()}
    for rule in ("response.request-id", "result.size", "webhook.delivered", "webhook.signature", "webhook.timestamp",
                 "webhook.headers", "lifecycle.transition", "error.code"):
        assert int(rows[rule][0]) > 0 and rows[rule][1] == "0", (rule, rows.get(rule))


def test_extensions_and_webhooks_are_skipped_unless_asked_for() -> None:
    with MockServer(time_scale=0) as server:
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "conformance", "--target", server.url,
             "--endpoint", TEXT, "--endpoint", OPENAI_TEXT, "--", "-q", "-rs", "-k", "extension or webhook"],
            capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "checked with --extensions" in done.stdout and "checked with --webhooks" in done.stdout
    assert " passed" not in done.stdout


def test_an_endpoint_the_spec_lacks_is_an_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "conformance", "--target", "http://127.0.0.1:9",
         "--endpoint", "fal-ai/nope"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode not in (0, 1), done.stdout[-2000:]
    assert "--endpoint fal-ai/nope: not in the spec" in done.stdout + done.stderr


# ---- against broken servers -------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    name: str
    corrupt: Callable[[Answer], None]
    kind: str
    case: Case
    rule: str
    words: str


def _status_value(a: Answer) -> None:
    if is_status(a) and a.status == 200:
        a.set_json({**a.json, "status": "DONE"})


def _missing_request_id(a: Answer) -> None:
    if is_submit(a) and a.status == 200:
        body = a.json
        del body["request_id"]
        a.set_json(body)


def _completed_202(a: Answer) -> None:
    if is_status(a) and a.status == 200:
        a.status = 202


def _image_width(a: Answer) -> None:
    if is_result(a) and a.status == 200:
        body = a.json
        for image in body["images"]:
            image["width"] += 1
        a.set_json(body)


def _image_width_run(a: Answer) -> None:
    if a.method == "POST" and a.path.startswith("/run/") and a.status == 200:
        body = a.json
        for image in body["images"]:
            image["width"] += 1
        a.set_json(body)


def _image_type(a: Answer) -> None:
    if "/files/" in a.path and a.status == 200:
        a.headers["content-type"] = "image/gif"


def _accepts_invalid(a: Answer) -> None:
    if is_submit(a) and a.status == 422:
        a.status = 200


def _error_shape(a: Answer) -> None:
    if a.status == 422:
        a.set_json({"error": "bad input"})


def _wrong_field(a: Answer) -> None:
    if a.status == 422:
        a.set_json({"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}]})


def _queue_position_rises(a: Answer) -> None:
    if is_status(a) and a.status == 200:
        n = nth_status_poll(a)
        if n <= 2:
            fake_state(a, "IN_QUEUE", position=0 if n == 1 else 3)


def _result_too_early(a: Answer) -> None:
    if is_status(a) and a.status == 200 and nth_status_poll(a) <= 3:
        fake_state(a, "IN_PROGRESS")


def _cancel_code(a: Answer) -> None:
    if a.method == "PUT" and a.status == 400:
        a.status = 202


def _no_request_id_header(a: Answer) -> None:
    if is_result(a):
        a.headers.pop("x-fal-request-id", None)


def _stream_event(a: Answer) -> None:
    # The wrapper buffers the whole stream; rewrite its last event.
    if a.path.endswith("/status/stream") and a.status == 200:
        a.body = a.body.replace(b'"status": "COMPLETED"', b'"status": "FINISHED"')


VALID = case(TEXT, "valid", "prompt only")
OPENAI_URLS = case(OPENAI_TEXT, "valid", "16:9 pair as URLs")
OPENAI_B64 = case(OPENAI_TEXT, "valid", "9:21 as b64_json")
OPENAI_BAD_N = case(OPENAI_TEXT, "invalid", "n above the maximum")
BROKEN = [
    Broken("wrong status value", _status_value, "valid", VALID, "response.schema", "'DONE' is not one of"),
    Broken("submit without request_id", _missing_request_id, "valid", VALID, "response.schema",
           "'request_id' is a required property"),
    Broken("COMPLETED answered 202", _completed_202, "valid", VALID, "lifecycle.status-code",
           "status COMPLETED answered 202, not 200"),
    Broken("stated image width wrong", _image_width, "valid", VALID, "image.size",
           "images[0] states 1025x1024, the file is 1024x1024"),
    Broken("image served as gif", _image_type, "valid", VALID, "image.content-type",
           "images[0] is served as 'image/gif' but stated 'image/jpeg'"),
    Broken("invalid request accepted", _accepts_invalid, "invalid",
           case(TEXT, "invalid", "num_images above the maximum"), "invalid.accepted",
           "answered 200; the spec says 422"),
    Broken("error body not in fal's shape", _error_shape, "invalid",
           case(TEXT, "invalid", "output_format outside the enum"), "response.schema",
           "'detail' is a required property"),
    Broken("422 names the wrong field", _wrong_field, "invalid",
           case(TEXT, "invalid", "num_images above the maximum"), "invalid.field",
           "the 422 names ['prompt'], not 'num_images'"),
    Broken("queue_position rises", _queue_position_rises, "valid", VALID, "lifecycle.queue-position",
           "queue_position rose from 0 to 3"),
    Broken("result served while in progress", _result_too_early, "valid", VALID, "lifecycle.result-before-completion",
           "result answered 200 while the request was IN_PROGRESS"),
    Broken("cancel code disagrees with outcome", _cancel_code, "cancel", VALID, "cancel.status-code",
           "cancel answered 202 with ALREADY_COMPLETED; the contract says 400"),
    Broken("stream event with a wrong status", _stream_event, "valid", VALID, "stream.final",
           "ended with 'FINISHED', not COMPLETED"),
    Broken("result without x-fal-request-id", _no_request_id_header, "valid", VALID, "response.header",
           "without the required header x-fal-request-id"),
    Broken("/v1 answer without created", broken.no_created, "valid", OPENAI_URLS, "response.schema",
           "'created' is a required property"),
    Broken("/v1 image of the wrong size", broken.tiny_b64_image, "valid", OPENAI_B64, "result.size",
           "data[0] is 8x8; aspect_ratio '9:21' means 672x1568"),
    Broken("/v1 b64_json not base64", broken.undecodable_b64, "valid", OPENAI_B64, "image.decode",
           "data[0].b64_json is not valid base64"),
    Broken("/v1 answer without x-request-id", broken.no_openai_request_id, "valid", OPENAI_URLS,
           "response.request-id", "without the x-request-id header"),
    Broken("/v1 error without x-request-id", broken.no_openai_request_id, "invalid", OPENAI_BAD_N,
           "response.request-id", "answered 400 without the x-request-id header"),
    Broken("/v1 error in fal's shape", broken.fal_error_on_openai, "invalid", OPENAI_BAD_N, "response.schema",
           "'error' is a required property"),
    Broken("/v1 error with another code", broken.wrong_error_code, "invalid", OPENAI_BAD_N, "error.code",
           "a 400 has error.code 'bad_request', not 'param_error'"),
    Broken("run host image width wrong", _image_width_run, "run", VALID, "image.size",
           "images[0] states 1025x1024, the file is 1024x1024"),
    Broken("webhook signed by a key not published", broken.other_webhook_key, "webhook", VALID,
           "webhook.signature", "no published key (1) verifies X-Fal-Webhook-Signature"),
    Broken("key set without an Ed25519 key", broken.no_webhook_keys, "webhook", VALID,
           "webhook.signature", "publishes no Ed25519 key"),
]


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_server_is_caught_with_the_rule(broken: Broken) -> None:
    with MockServer(time_scale=0, wrap=corrupting(broken.corrupt)) as server:
        findings = run(server, broken.kind, broken.case)
    report = findings.report()
    assert any(f.rule == broken.rule and broken.words in f.message for f in findings.failures), report
    with pytest.raises(ContractViolation) as raised:
        findings.raise_if_any()
    text = str(raised.value)
    # The report names the endpoint, the request and the rule.
    assert f"endpoint {broken.case.endpoint}" in text
    assert repr(broken.case.name) in text
    assert f"[{broken.rule}]" in text


def test_cli_fails_against_a_broken_server_and_names_the_rule() -> None:
    with MockServer(time_scale=0, wrap=corrupting(_image_width)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "conformance", "--target", server.url, "--endpoint", TEXT,
             "--", "-q", "-k", "valid_request"],
            capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 1, done.stdout[-3000:]
    assert f"endpoint {TEXT}, valid request 'prompt only'" in done.stdout
    assert "[image.size] images[0] states 1025x1024, the file is 1024x1024" in done.stdout


# ---- against servers answering as the real service may --------------------------------


@pytest.mark.parametrize("kind", ["valid", "cancel"])
def test_answers_fal_may_give_pass(kind: str) -> None:
    # IN_PROGRESS submits without queue_position, images without content_type,
    # logs without labels, cancel answering 200 OK or a bare 400 detail.
    with MockServer(time_scale=0, wrap=corrupting(broken.provider_true)) as server:
        findings = run(server, kind, VALID)
        entries, _ = server.context.journal.read(Query(method="POST"))
    assert findings.failures == [], findings.report()
    assert entries, "the suite should have submitted"


def test_cancel_ok_while_queued_passes() -> None:
    with MockServer(time_scale=0.05, concurrency=1, wrap=corrupting(broken.cancel_as_fal_may)) as server:
        with httpx.Client() as client:
            client.post(f"{server.url}/{TEXT}", json={"prompt": "keeps the worker busy"})
        findings = run(server, "cancel", case(TEXT, "valid"))
        entries, _ = server.context.journal.read(Query(method="PUT"))
    assert findings.failures == [], findings.report()
    # The journal holds the mock's own 202, which the wrapper answered as 200 OK.
    assert any(e.status == 202 for e in entries), "the cancel should have found the job still waiting"


def test_requeue_is_a_warning_not_a_failure() -> None:
    with MockServer(time_scale=0, wrap=corrupting(broken.requeued_once)) as server:
        findings = run(server, "valid", VALID)
    assert findings.errors == [], findings.report()
    assert [(f.rule, f.severity) for f in findings.failures] == [("lifecycle.requeue", "warning")], findings.report()
    assert "IN_PROGRESS -> IN_QUEUE" in findings.failures[0].message
    findings.raise_if_any()  # warnings alone do not fail a test
