"""The server conformance suite, run against the mock and against deliberately broken servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from contract_tests.cases import Case, load_cases
from contract_tests.fal_flow import FalFlow, FlowOptions
from contract_tests.report import ContractViolation, Findings
from mockserver.kit.journal import Query
from mockserver.spec.loader import Spec
from mockserver.testing import MockServer
from tests.broken import Answer, corrupting, fake_state, is_result, is_status, is_submit, nth_status_poll

SPEC = Spec.load()
CASES = load_cases()
TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"


def case(endpoint: str, kind: str, name: str | None = None) -> Case:
    return next(c for c in CASES if c.endpoint == endpoint and c.kind == kind and (name is None or c.name == name))


@pytest.fixture(scope="module")
def healthy() -> Iterator[MockServer]:
    with MockServer(time_scale=0.01, concurrency=1) as server:
        yield server


def run(server: MockServer, kind: str, chosen: Case) -> Findings:
    with httpx.Client(timeout=30) as client:
        flow = FalFlow(SPEC, client, server.url, FlowOptions(poll_interval=0.01, timeout=20))
        result: Findings = getattr(flow, kind)(chosen)
        return result


# ---- against the mock ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["valid", "invalid", "cancel"])
def test_mock_passes_one_case_of_each_kind_per_endpoint(healthy: MockServer, kind: str) -> None:
    for op in SPEC.models():
        assert op.model is not None
        chosen = case(op.model.endpoint_id, "valid" if kind == "cancel" else kind)
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


def test_full_suite_passes_against_the_mock_through_the_cli(tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    with MockServer(time_scale=0) as server:
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "conformance", "--target", server.url, "--junit", str(junit),
             "--", "-q"],
            capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    expected = len(CASES) + len({c.endpoint for c in CASES}) + 1  # cases, one cancel per endpoint, coverage
    assert int(suite.get("tests", "0")) == expected
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"


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


def _goes_backwards(a: Answer) -> None:
    if is_status(a) and a.status == 200:
        n = nth_status_poll(a)
        if n == 1:
            fake_state(a, "IN_PROGRESS")
        elif n == 2:
            fake_state(a, "IN_QUEUE", position=1)


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
    Broken("state goes backwards", _goes_backwards, "valid", VALID, "lifecycle.transition",
           "IN_PROGRESS -> IN_QUEUE is not allowed"),
    Broken("result served while in progress", _result_too_early, "valid", VALID, "lifecycle.result-before-completion",
           "result answered 200 while the request was IN_PROGRESS"),
    Broken("cancel code disagrees with outcome", _cancel_code, "cancel", VALID, "cancel.status-code",
           "cancel answered 202 with ALREADY_COMPLETED; the contract says 400"),
    Broken("stream event with a wrong status", _stream_event, "valid", VALID, "stream.final",
           "ended with 'FINISHED', not COMPLETED"),
    Broken("result without x-fal-request-id", _no_request_id_header, "valid", VALID, "response.header",
           "without the required header x-fal-request-id"),
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
