"""Webhooks: fal's signed payloads, delivered when a job ends, verified with the published JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fal_client
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mockserver.sim.clock import ManualClock
from mockserver.sim.webhook_delivery import target_problem
from mockserver.sim.webhook_schedule import retry_delays
from mockserver.spec.loader import Spec
from mockserver.testing import MockServer, point_fal_client

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "fal-ai/flux-pro/kontext/max"
WAIT = 20.0  # generous bound on real time for a background delivery; never reached when things work


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint on loopback that answers with the given codes, then 200."""

    fail_codes: list[int] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def wait_for(self, count: int) -> list[Hit]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.hits) >= count, timeout=WAIT)
            return list(self.hits)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.arrived:
                code = state.fail_codes.pop(0) if state.fail_codes else 200
                state.hits.append(Hit({k.lower(): v for k, v in self.headers.items()}, body))
                state.arrived.notify_all()
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fal(mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    monkeypatch.setenv("FAL_KEY", "test-key")
    with point_fal_client(mock.url):
        yield mock


def verify(jwks: dict[str, Any], hit: Hit) -> None:
    """What a receiver does: rebuild the signed message and check it with a published key."""
    h = hit.headers
    message = "\n".join(
        [
            h["x-fal-webhook-request-id"],
            h["x-fal-webhook-user-id"],
            h["x-fal-webhook-timestamp"],
            hashlib.sha256(hit.body).hexdigest(),
        ]
    ).encode()
    signature = bytes.fromhex(h["x-fal-webhook-signature"])
    for key in jwks["keys"]:
        raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
            return
        except InvalidSignature:
            continue
    raise InvalidSignature("no published key verifies the webhook")


def test_ok_webhook_is_signed_and_carries_the_result(fal: MockServer, clock: ManualClock, receiver: Receiver) -> None:
    handle = fal_client.submit(TEXT, {"prompt": "a kite", "seed": 5}, webhook_url=receiver.url)
    assert receiver.hits == []  # nothing before the job ends
    clock.advance(60)
    hits = receiver.wait_for(1)
    assert len(hits) == 1
    hit = hits[0]
    body = hit.json()
    assert body["status"] == "OK"
    assert body["request_id"] == handle.request_id
    assert body["gateway_request_id"] == handle.request_id
    assert body["payload"] == handle.get()  # the same output the result endpoint gives
    assert hit.headers["x-fal-webhook-request-id"] == handle.request_id
    assert hit.headers["x-fal-webhook-user-id"]
    assert hit.headers["x-fal-webhook-timestamp"].isdigit()
    assert hit.headers["content-type"] == "application/json"
    verify(httpx.get(f"{fal.url}/.well-known/jwks.json").json(), hit)


def test_each_webhook_fires_when_its_own_job_ends(fal: MockServer, clock: ManualClock, receiver: Receiver) -> None:
    # Two simulated workers: the third job waits for a free one, so it ends one run later.
    ids = [fal_client.submit(TEXT, {"prompt": f"job {i}"}, webhook_url=receiver.url).request_id for i in range(3)]
    clock.advance(6)  # dispatch + one run
    first = receiver.wait_for(2)
    assert sorted(h.json()["request_id"] for h in first) == sorted(ids[:2])
    assert fal.context.webhooks.pending == 1  # the third has not ended on this clock
    clock.advance(6)
    assert [h.json()["request_id"] for h in receiver.wait_for(3)][2] == ids[2]


def test_tampered_body_fails_verification(fal: MockServer, clock: ManualClock, receiver: Receiver) -> None:
    fal_client.submit(TEXT, {"prompt": "a kite"}, webhook_url=receiver.url)
    clock.advance(60)
    hit = receiver.wait_for(1)[0]
    jwks = httpx.get(f"{fal.url}/.well-known/jwks.json").json()
    with pytest.raises(InvalidSignature):
        verify(jwks, Hit(hit.headers, hit.body.replace(b'"OK"', b'"ERROR"')))


def test_failed_job_sends_the_error_form(fal: MockServer, clock: ManualClock, receiver: Receiver) -> None:
    broken = "data:image/png;base64,bm90IGFuIGltYWdl"  # decodes to text, not an image
    handle = fal_client.submit(EDIT, {"prompt": "fix it", "image_url": broken}, webhook_url=receiver.url)
    clock.advance(60)
    body = receiver.wait_for(1)[0].json()
    assert body["status"] == "ERROR"
    assert body["error"] == "Invalid status code: 422"
    assert body["request_id"] == handle.request_id
    assert body["payload"]["detail"][0]["loc"] == ["body", "image_url"]


def test_cancelled_job_sends_an_error(fal: MockServer, clock: ManualClock, receiver: Receiver) -> None:
    handle = fal_client.submit(TEXT, {"prompt": "never mind"}, webhook_url=receiver.url)
    handle.cancel()
    body = receiver.wait_for(1)[0].json()
    assert body["status"] == "ERROR"
    assert body["error"] == "Invalid status code: 400"
    assert body["payload"]["detail"] == "Request was cancelled"


def test_failed_deliveries_are_retried_then_succeed(clock: ManualClock, receiver: Receiver) -> None:
    receiver.fail_codes = [500, 503]
    with MockServer(clock=clock, webhook_backoff_seconds=0.01, webhook_attempts=5) as mock:
        answer = httpx.post(f"{mock.url}/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "retry"})
        clock.advance(60)
        hits = receiver.wait_for(3)
        record = mock.context.webhooks.records[answer.json()["request_id"]]
        assert _wait(lambda: record.delivered)
        log = httpx.get(f"{mock.url}/_mock/webhooks").json()
    assert log["pending"] == 0
    assert log["deliveries"] == [
        {
            "request_id": answer.json()["request_id"],
            "url": receiver.url,
            "attempts": 3,
            "delivered": True,
            "statuses": [500, 503, 200],
            "last_error": None,
        }
    ]
    assert len(hits) == 3
    assert record.statuses == [500, 503, 200]
    # Every attempt is signed afresh and carries the same body.
    assert len({h.body for h in hits}) == 1


def test_retries_are_bounded(clock: ManualClock, receiver: Receiver) -> None:
    receiver.fail_codes = [500] * 10
    with MockServer(clock=clock, webhook_backoff_seconds=0.01, webhook_attempts=3) as mock:
        answer = httpx.post(f"{mock.url}/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "down"})
        clock.advance(60)
        record = mock.context.webhooks.records[answer.json()["request_id"]]
        assert _wait(lambda: record.attempts == 3 and record.last_error == "HTTP 500" and len(record.statuses) == 3)
        assert _wait(lambda: not mock.context.webhooks._tasks)  # the watcher and the delivery have ended
    assert len(receiver.hits) == 3
    assert not record.delivered


def test_by_default_a_failing_receiver_gets_the_spec_schedule(clock: ManualClock, receiver: Receiver) -> None:
    # At time scale 1 the waits add up to two hours: they are recorded instead of slept.
    schedule = Spec.load().queue_contract("fal").webhook_schedule
    assert schedule is not None
    receiver.fail_codes = [503] * (schedule.attempts + 5)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with MockServer(clock=clock) as mock:
        mock.context.webhooks.sleep = sleep
        answer = httpx.post(f"{mock.url}/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "down"})
        clock.advance(60)
        record = mock.context.webhooks.records[answer.json()["request_id"]]
        assert _wait(lambda: not mock.context.webhooks._tasks)  # the delivery has given up
    assert record.attempts == len(receiver.hits) == schedule.attempts
    assert waits == retry_delays(schedule.attempts, schedule.retry_window_seconds, 1.0)
    assert not record.delivered


def test_the_schedule_is_time_scaled_and_really_waited(clock: ManualClock, receiver: Receiver) -> None:
    # A time scale so small that fal's two hours pass in under a tenth of a second of real waits.
    schedule = Spec.load().queue_contract("fal").webhook_schedule
    assert schedule is not None
    scale = 1e-5
    receiver.fail_codes = [500] * (schedule.attempts - 1)
    with MockServer(clock=clock, time_scale=scale) as mock:
        answer = httpx.post(f"{mock.url}/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "late"})
        clock.advance(60)
        record = mock.context.webhooks.records[answer.json()["request_id"]]
        assert _wait(lambda: record.delivered)
    hits = receiver.wait_for(schedule.attempts)
    assert len(hits) == record.attempts == schedule.attempts  # delivered at the last attempt
    assert record.statuses == [500] * (schedule.attempts - 1) + [200]
    assert sum(mock.context.webhooks.delays) == pytest.approx(schedule.retry_window_seconds * scale)


def test_an_unserialisable_output_sends_payload_error_and_the_result_still_answers(
    clock: ManualClock, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAL_KEY", "test-key")
    with MockServer(clock=clock, scenarios_path="webhook-payload-error") as mock, point_fal_client(mock.url):
        odd = fal_client.submit(TEXT, {"prompt": "an unserialisable kite"}, webhook_url=receiver.url)
        plain = fal_client.submit(TEXT, {"prompt": "a plain kite"}, webhook_url=receiver.url)
        clock.advance(60)
        bodies = {h.json()["request_id"]: h.json() for h in receiver.wait_for(2)}
        assert odd.get()["images"]  # only the webhook's payload fails, as on fal
    assert bodies[odd.request_id] == {
        "request_id": odd.request_id,
        "gateway_request_id": odd.request_id,
        "status": "OK",
        "payload": None,
        "payload_error": Spec.load().queue_contract("fal").webhook["payload_error"],
    }
    assert bodies[plain.request_id]["payload"]["images"]


def test_a_failed_job_with_an_unserialisable_output_keeps_its_error(
    clock: ManualClock, receiver: Receiver
) -> None:
    with MockServer(clock=clock) as mock:
        for effect in ({"type": "fail", "status": 500}, {"type": "unserialisable_output"}):
            assert httpx.post(f"{mock.url}/_mock/scenarios", json={"effect": effect}).status_code == 201
        httpx.post(f"{mock.url}/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "broken"})
        clock.advance(60)
        body = receiver.wait_for(1)[0].json()
    assert (body["status"], body["error"], body["payload"]) == ("ERROR", "Invalid status code: 500", None)
    assert body["payload_error"]


def test_non_loopback_webhook_is_refused_and_nothing_is_queued(fal: MockServer) -> None:
    before = len(fal.context.queue.jobs)
    with pytest.raises(fal_client.FalClientHTTPError) as caught:
        fal_client.submit(TEXT, {"prompt": "x"}, webhook_url="https://hooks.example.com/in")
    assert caught.value.status_code == 403
    assert caught.value.error_type == "webhook_target_not_allowed"
    assert "--webhook-allow hooks.example.com" in caught.value.response.json()["detail"]
    assert len(fal.context.queue.jobs) == before


def test_allow_list_admits_a_named_host_and_stop_cancels_pending_deliveries(clock: ManualClock) -> None:
    mock = MockServer(clock=clock, webhook_allow_hosts=("hooks.example.com",)).start()
    answer = httpx.post(
        f"{mock.url}/{TEXT}", params={"fal_webhook": "https://hooks.example.com/in"}, json={"prompt": "x"}
    )
    assert answer.status_code == 200
    assert mock.context.webhooks.pending == 1  # waiting for a job that, on this clock, never ends
    mock.stop()
    assert mock._thread is not None and not mock._thread.is_alive()
    assert mock.context.webhooks.records[answer.json()["request_id"]].attempts == 0


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9/x", True),
        ("http://127.8.9.10/x", True),
        ("http://[::1]:8080/x", True),
        ("http://localhost/x", True),
        ("http://api.localhost/x", True),
        ("http://10.0.0.5/x", False),
        ("https://example.com/x", False),
        ("ftp://127.0.0.1/x", False),
        ("not a url", False),
        ("http://[::1/x", False),
    ],
)
def test_default_targets_are_loopback_only(url: str, allowed: bool) -> None:
    assert (target_problem(url, ()) is None) is allowed


def test_malformed_webhook_url_is_a_422(instant: MockServer) -> None:
    answer = httpx.post(f"{instant.url}/{TEXT}", params={"fal_webhook": "http://[::1/x"}, json={"prompt": "p"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][:2] == ["query", "fal_webhook"]


def test_star_allows_any_host() -> None:
    assert target_problem("https://example.com/x", ("*",)) is None
    assert target_problem("https://example.com/x", ("EXAMPLE.com",)) is None
    assert target_problem("https://example.org/x", ("example.com",)) is not None


def test_jwks_document_shape(instant: MockServer) -> None:
    answer = httpx.get(f"{instant.url}/.well-known/jwks.json")
    assert answer.status_code == 200
    (key,) = answer.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32


def _wait(condition: Any) -> bool:
    event = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return True
        event.wait(0.01)
    return bool(condition())


def test_a_retried_requests_webhook_carries_a_new_gateway_id(receiver: Receiver, clock: ManualClock) -> None:
    with MockServer(clock=clock, time_scale=0) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        http.post("/_mock/scenarios", json={"effect": {"type": "requeue", "times": 3}})
        retried = http.post(f"/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "p"}).json()
        http.delete("/_mock/scenarios")
        plain = http.post(f"/{TEXT}", params={"fal_webhook": receiver.url}, json={"prompt": "p"}).json()
        deliveries = {hit.json()["request_id"]: hit.json() for hit in receiver.wait_for(2)}
    # Without a retry the gateway id is the request id; after runner retries, the last attempt's.
    assert plain["gateway_request_id"] == plain["request_id"]
    assert deliveries[plain["request_id"]]["gateway_request_id"] == plain["request_id"]
    gateway = deliveries[retried["request_id"]]["gateway_request_id"]
    assert isinstance(gateway, str) and gateway != retried["request_id"] and len(gateway) == 36
