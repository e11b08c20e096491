"""The simulated account and billable units, over HTTP and through fal-client, on a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fal_client
import fal_client.client
import httpx
import pytest

from mockserver.config import Settings
from mockserver.sim.clock import ManualClock
from mockserver.spec.documents import SpecError
from mockserver.spec.loader import Spec, default_spec, default_spec_paths
from mockserver.testing import MockServer
from tests.helpers import EDIT, TEXT, data_uri
from tests.spec.test_extension import EXTRA

SPEC = default_spec()
EXHAUSTED = {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."}


def _price(endpoint_id: str) -> float:
    model = SPEC.model(endpoint_id)
    assert model is not None and model.model is not None and model.model.billing is not None
    return model.model.billing.unit_price_usd


@pytest.fixture
def account(clock: ManualClock) -> Iterator[tuple[MockServer, httpx.Client]]:
    with MockServer(clock=clock, balance=3) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        yield mock, http


def _done(http: httpx.Client, clock: ManualClock, endpoint: str = TEXT, **body: object) -> httpx.Response:
    ticket = http.post(f"/{endpoint}", json={"prompt": "p", **body})
    assert ticket.status_code == 200, ticket.text
    clock.advance(60)
    return http.get(ticket.json()["response_url"])


def test_a_result_carries_its_billable_units_and_the_account_is_charged(
    account: tuple[MockServer, httpx.Client], clock: ManualClock
) -> None:
    _, http = account
    result = _done(http, clock, num_images=2)
    assert result.status_code == 200 and result.headers["x-fal-billable-units"] == "2"
    state = http.get("/_mock/account").json()
    assert (state["balance"], state["charged_units"], state["charged_requests"]) == (1, 2, 1)
    assert state["charged_usd"] == pytest.approx(2 * _price(TEXT))
    # The journal shows what each answer billed: only the result's answer bills anything.
    entries = http.get("/_mock/journal").json()["entries"]
    billed = [(e["operation"], e["billable_units"]) for e in entries if e["billable_units"] is not None]
    assert billed == [("getRequestResult", 2)]


def test_a_spent_balance_refuses_submits_with_fals_words_and_keeps_nothing(
    account: tuple[MockServer, httpx.Client], clock: ManualClock
) -> None:
    mock, http = account
    _done(http, clock, num_images=2)
    # One image left: this request is accepted, and its two images take the balance below zero.
    _done(http, clock, num_images=2)
    jobs_before = len(mock.context.queue.jobs)
    for path in (f"/{TEXT}", f"/{EDIT}", f"/run/{TEXT}"):
        body = {"prompt": "p", "image_url": data_uri()} if path.endswith(EDIT) else {"prompt": "p"}
        refused = http.post(path, json=body)
        assert (refused.status_code, refused.json()) == (403, EXHAUSTED)
        assert "x-fal-error-type" not in refused.headers  # fal's words carry no error type
    # A locked account is refused before its body is read, as fal's gateway refuses it first.
    assert http.post(f"/{TEXT}", json={"prompt": 5}).json() == EXHAUSTED
    assert len(mock.context.queue.jobs) == jobs_before
    assert http.get("/_mock/account").json()["balance"] == -1
    # A top-up opens the account again.
    assert http.post("/_mock/account", json={"top_up": 5}).json()["balance"] == 4
    assert http.post(f"/{TEXT}", json={"prompt": "p"}).status_code == 200


def test_failed_and_cancelled_requests_cost_nothing(
    account: tuple[MockServer, httpx.Client], clock: ManualClock
) -> None:
    _, http = account
    # An input that cannot be loaded fails the request; a cancelled one never makes its images.
    failed = _done(http, clock, EDIT, image_url="data:image/png;base64,AAAA")
    assert failed.status_code == 422 and "x-fal-billable-units" not in failed.headers
    http.post(f"/{TEXT}", json={"prompt": "ahead"})
    ticket = http.post(f"/{TEXT}", json={"prompt": "never mind"}).json()
    assert http.put(ticket["cancel_url"]).status_code == 202
    clock.advance(60)
    state = http.get("/_mock/account").json()
    assert (state["charged_requests"], state["balance"]) == (1, 2)  # only "ahead" was charged


def test_the_balance_can_be_set_and_the_account_turned_off(
    account: tuple[MockServer, httpx.Client], clock: ManualClock
) -> None:
    _, http = account
    assert http.post("/_mock/account", json={"balance": 0}).json()["balance"] == 0
    assert http.post(f"/{TEXT}", json={"prompt": "p"}).status_code == 403
    off = http.post("/_mock/account", json={"balance": None}).json()
    assert (off["enabled"], off["balance"]) == (False, None)
    assert http.post(f"/{TEXT}", json={"prompt": "p"}).status_code == 200
    for bad in ({}, {"top_up": -1}, {"top_up": 1, "balance": 2}, {"credit": 3}, {"top_up": "ten"}):
        answer = http.post("/_mock/account", json=bad)
        assert answer.status_code == 422, bad
    assert http.get("/_mock/account").json()["enabled"] is False  # a refused update changed nothing


def test_without_an_account_nothing_is_refused_and_outputs_still_say_their_units(
    http: httpx.Client, clock: ManualClock
) -> None:
    for _ in range(3):
        assert _done(http, clock, num_images=4).headers["x-fal-billable-units"] == "4"
    state = http.get("/_mock/account").json()
    assert (state["enabled"], state["charged_units"]) == (False, 0)


def test_openai_compatible_requests_are_not_charged(clock: ManualClock) -> None:
    with MockServer(time_scale=0, balance=0) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        answer = http.post(
            "/v1/images/generations", json={"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": "p"}
        )
        assert answer.status_code == 200, answer.text
        assert http.post(f"/{TEXT}", json={"prompt": "p"}).status_code == 403


def test_fal_client_sees_the_exhausted_balance(monkeypatch: pytest.MonkeyPatch) -> None:
    with MockServer(time_scale=0, balance=1) as mock:
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", mock.url + "/")
        monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", mock.url + "/run/")
        client = fal_client.SyncClient(key="mock-id:mock-secret")
        assert client.run(TEXT, {"prompt": "the last one"})["images"]
        for call in (client.submit, client.run):
            with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
                call(TEXT, {"prompt": "one too many"})
            assert caught.value.status_code == 403 and "Exhausted balance" in str(caught.value)


def test_a_model_without_billing_is_never_refused(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA)
    settings = Settings(port=0, time_scale=0, balance=0, spec_paths=(*default_spec_paths(), extra))
    with MockServer(settings) as mock:
        free = httpx.post(f"{mock.url}/run/acme/tiny-kontext/draft", json={"text": "no bill"})
        assert free.status_code == 200 and "x-fal-billable-units" not in free.headers


@pytest.mark.parametrize(
    ("billing", "words"),
    [("{unit: pixel, unit_price_usd: 1}", "billing unit 'pixel'"), ("{unit: image, unit_price_usd: -1}", "price")],
)
def test_a_bad_billing_block_stops_start_up(tmp_path: Path, billing: str, words: str) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        EXTRA.replace("x-mock-model: {title: Tiny Kontext}", f"x-mock-model: {{title: T, billing: {billing}}}")
    )
    with pytest.raises(SpecError, match=words):
        Spec.load((*default_spec_paths(), broken))
