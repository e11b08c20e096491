"""How long requests and files are kept: fal's retention rules, lifecycle headers, X-Fal-Store-IO.

Every wait is the mock's clock moved by hand; the periods come from the spec."""

from __future__ import annotations

import json
from collections.abc import Iterator

import fal_client
import httpx
import pytest

from mockserver.sim.clock import ManualClock
from mockserver.spec.loader import default_spec
from mockserver.testing import MockServer, point_fal_client
from tests.helpers import TEXT, png

RULES = default_spec().queue_contract("fal").retention
LIFECYCLE = "X-Fal-Object-Lifecycle-Preference"


@pytest.fixture
def done(clock: ManualClock) -> Iterator[tuple[httpx.Client, ManualClock]]:
    """A mock whose jobs finish the moment they are submitted, on a clock moved by hand."""
    with MockServer(clock=clock, time_scale=0) as mock, httpx.Client(base_url=mock.url, timeout=10) as http:
        yield http, clock


def _finished(http: httpx.Client, headers: dict[str, str] | None = None, **body: object) -> dict[str, str]:
    ticket = http.post(f"/{TEXT}", json={"prompt": "p", **body}, headers=headers or {})
    assert ticket.status_code == 200, ticket.text
    result = http.get(ticket.json()["response_url"])
    assert result.status_code == 200, result.text
    return {"status_url": ticket.json()["status_url"], "image": result.json()["images"][0]["url"]}


def _kept(http: httpx.Client, clock: ManualClock, url: str, seconds: float) -> None:
    """``url`` answers until ``seconds`` have passed, and 404 after."""
    clock.advance(seconds - 1)
    assert http.get(url).status_code == 200
    clock.advance(2)
    assert http.get(url).status_code == 404


def test_a_result_is_kept_for_fals_hour(done: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = done
    request = _finished(http)
    _kept(http, clock, request["status_url"], RULES["seconds"])


def test_a_large_result_is_kept_for_fals_shorter_period(done: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = done
    # With data URIs the result is far past the size fal keeps for less (the spec's large_result_bytes).
    ticket = http.post(f"/{TEXT}", json={"prompt": "p", "sync_mode": True}).json()
    result = http.get(ticket["response_url"])
    assert len(result.content) >= RULES["large_result_bytes"]
    _kept(http, clock, ticket["status_url"], RULES["large_result_seconds"])


def test_retention_sets_one_period_for_every_request(clock: ManualClock) -> None:
    with MockServer(clock=clock, time_scale=0, retention_seconds=30) as mock, httpx.Client(base_url=mock.url) as http:
        small = _finished(http)
        large = http.post(f"/{TEXT}", json={"prompt": "p", "sync_mode": True}).json()
        clock.advance(29)
        assert [http.get(url).status_code for url in (small["status_url"], large["status_url"])] == [200, 200]
        clock.advance(2)
        assert [http.get(url).status_code for url in (small["status_url"], large["status_url"])] == [404, 404]


def test_a_submits_lifecycle_sets_when_its_files_expire(done: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = done
    request = _finished(http, {LIFECYCLE: json.dumps({"expiration_duration_seconds": 120})})
    _kept(http, clock, request["image"], 120)
    assert http.get(request["status_url"]).status_code == 200  # the request itself is kept as before
    # Without the header, files last as long as their request.
    plain = _finished(http)
    clock.advance(RULES["seconds"] - 10)
    assert http.get(plain["image"]).status_code == 200


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("3600", "type_error.dict"),
        ("{expiration_duration_seconds: 5}", "value_error.jsondecode"),
        ('{"expiration_duration_seconds": 0}', "value_error.number.not_ge"),
        ('{"expiration_duration_seconds": "soon"}', "type_error.integer"),
    ],
)
def test_a_bad_lifecycle_is_a_422_naming_the_header_and_queues_nothing(
    done: tuple[httpx.Client, ManualClock], value: str, kind: str
) -> None:
    http, _ = done
    answer = http.post(f"/{TEXT}", json={"prompt": "p"}, headers={LIFECYCLE: value})
    assert answer.status_code == 422
    [issue] = answer.json()["detail"]
    assert (issue["loc"][:2], issue["type"]) == (["header", LIFECYCLE.lower()], kind)
    assert http.get("/_mock/journal").json()["entries"][-1]["status"] == 422


def test_an_uploads_lifecycle_sets_when_the_file_expires(done: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = done
    lifecycle = json.dumps({"expiration_duration_seconds": 90})
    raw = http.post("/files/upload", content=png(), headers={"content-type": "image/png", LIFECYCLE: lifecycle})
    initiated = http.post("/storage/upload/initiate", json={"file_name": "a.png"}, headers={LIFECYCLE: lifecycle})
    assert http.put(initiated.json()["upload_url"], content=png()).status_code == 200
    for url in (raw.json()["access_url"], initiated.json()["file_url"]):
        assert http.get(url).status_code == 200
    clock.advance(91)
    assert [http.get(u).status_code for u in (raw.json()["access_url"], initiated.json()["file_url"])] == [404, 404]


def test_fal_clients_upload_lifecycle_is_honoured(clock: ManualClock) -> None:
    with MockServer(clock=clock, time_scale=0) as mock, point_fal_client(mock.url):
        settings = fal_client.client.StorageSettings(expires_in=600)  # less than the default hour
        url = fal_client.SyncClient().upload(png(), "image/png", lifecycle=settings)
        clock.advance(599)
        assert httpx.get(url).status_code == 200
        clock.advance(2)
        assert httpx.get(url).status_code == 404


def test_store_io_0_keeps_no_copy_of_the_payload(done: tuple[httpx.Client, ManualClock]) -> None:
    http, _ = done
    http.post(f"/{TEXT}", json={"prompt": "secret plans"}, headers={"X-Fal-Store-IO": "0"})
    http.post(f"/{TEXT}", json={"prompt": "public plans"})
    bodies = [e["body"] for e in http.get("/_mock/journal").json()["entries"] if e["method"] == "POST"]
    assert bodies == [None, {"prompt": "public plans"}]
    assert "secret" not in http.get("/_mock/journal").text
    assert http.post(f"/{TEXT}", json={"prompt": "p"}, headers={"X-Fal-Store-IO": "no"}).status_code == 422
    # Through @fal-ai/client's proxy: neither the proxy's entry nor the submit's keeps it.
    proxied = {"X-Fal-Store-IO": "0", "x-fal-target-url": f"https://queue.fal.run/{TEXT}"}
    assert http.post("/api/fal/proxy", json={"prompt": "proxied secret"}, headers=proxied).status_code == 200
    assert "proxied secret" not in http.get("/_mock/journal").text


def test_a_multipart_uploads_lifecycle_sets_when_the_file_expires(done: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = done
    lifecycle = json.dumps({"expiration_duration_seconds": 45})
    # fal-client's start on the CDN (lifecycle under both names), and @fal-ai/client's on the REST host.
    python = http.post(
        "/files/upload/multipart",
        headers={"X-Fal-File-Name": "a.bin", "X-Fal-Object-Lifecycle": lifecycle, LIFECYCLE: lifecycle},
    ).json()
    js = http.post("/storage/upload/initiate-multipart", json={"file_name": "b.bin"}, headers={LIFECYCLE: lifecycle})
    urls = []
    for upload_url, file_url in (
        (f"{python['access_url']}/multipart/{python['uploadId']}", python["access_url"]),
        (js.json()["upload_url"], js.json()["file_url"]),
    ):
        etag = http.put(f"{upload_url}/1", content=b"part one").headers["etag"]
        assert http.post(f"{upload_url}/complete", json={"parts": [{"partNumber": 1, "etag": etag}]}).status_code == 200
        urls.append(file_url)
    assert [http.get(u).content for u in urls] == [b"part one", b"part one"]
    clock.advance(46)
    assert [http.get(u).status_code for u in urls] == [404, 404]


def test_a_failed_sync_request_has_a_small_result_and_is_kept_the_hour(done: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = done
    http.post("/_mock/scenarios", json={"effect": {"type": "fail", "status": 500}})
    ticket = http.post(f"/{TEXT}", json={"prompt": "p", "sync_mode": True}).json()
    assert http.get(ticket["response_url"]).status_code == 500
    clock.advance(RULES["large_result_seconds"] + 1)
    assert http.get(ticket["status_url"]).status_code == 200
