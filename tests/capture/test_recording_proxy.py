"""The recorder between a client and a real mock: the client sees only the recorder, the cassette sees the service."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from mockserver.cassette.reader import read_cassette
from mockserver.cli import main
from mockserver.testing import ManualClock, MockServer, RecordingProxy
from tests.helpers import TEXT
from tests.recording_helpers import links_in, ticking_clock, until_completed

KEY_ID, KEY_SECRET = "9c1d2e3f-4a5b-key-id", "f1e2d3c4b5a6-key-secret"
KEY = f"{KEY_ID}:{KEY_SECRET}"
AUTH = {"Authorization": f"Key {KEY}"}
OPENAI_TEXT = "black-forest-labs/flux-kontext-max/text-to-image"


def test_a_queue_lifecycle_is_recorded_while_the_client_only_sees_the_recorder(
    upstream: MockServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "cassette"
    with (
        RecordingProxy(upstream=upstream.url, cassette=cassette, clock=ticking_clock()) as rec,
        httpx.Client(timeout=10, headers=AUTH) as http,
    ):
        submitted = http.post(f"{rec.url}/{TEXT}", json={"prompt": "a lighthouse at dusk", "seed": 7})
        assert submitted.status_code == 200, submitted.text
        # The upstream's own headers come through, once each beside the recorder's.
        assert submitted.headers["x-fal-request-id"] == submitted.json()["request_id"]
        assert len(submitted.headers.get_list("date")) == 1 and len(submitted.headers.get_list("server")) == 1
        answers = [submitted.json()]
        answers += until_completed(http, answers[0]["status_url"])
        result = http.get(answers[0]["response_url"])
        assert result.status_code == 200
        answers.append(result.json())
        for link in (link for doc in answers for link in links_in(doc)):
            assert link.startswith(rec.url + "/"), link
        image = http.get(result.json()["images"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"

    recorded = read_cassette(cassette)
    operations = [ex.operation for ex in recorded.exchanges]
    polls = len(answers) - 2
    assert operations == ["submitKontextMaxTextToImage"] + ["getRequestStatus"] * polls + ["getRequestResult"]
    assert [ex.at for ex in recorded.exchanges] == [float(n) for n in range(1, len(operations) + 1)]
    submit = recorded.exchanges[0]
    assert submit.path == f"/{TEXT}" and submit.url == f"{upstream.url}/{TEXT}"
    assert submit.request.json == {"prompt": "a lighthouse at dusk", "seed": 7}
    # What the service really said: its own links, not the recorder's.
    assert submit.response.json["status_url"].startswith(upstream.url + "/")
    assert recorded.exchanges[-1].response.json["images"][0]["url"].startswith(upstream.url + "/files/")
    (stored,) = recorded.files.values()
    assert stored.local_path == httpx.URL(result.json()["images"][0]["url"]).path
    assert stored.source.startswith(upstream.url + "/files/") and stored.content_type == "image/jpeg"
    assert image.content == stored.data == httpx.get(stored.source).content


def test_openai_images_are_recorded_and_their_links_lead_to_the_recorder(upstream: MockServer, tmp_path: Path) -> None:
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c") as rec:
        client = openai.OpenAI(base_url=f"{rec.url}/v1", api_key="sk-recording-test-key", max_retries=0)
        answer = client.images.generate(model=OPENAI_TEXT, prompt="a kite")
        assert answer.data is not None
        url = str(answer.data[0].url)
        assert url.startswith(rec.url + "/")
        downloaded = httpx.get(url).content
    (ex,) = read_cassette(tmp_path / "c").exchanges
    assert (ex.operation, ex.method, ex.path, ex.status) == ("createImage", "POST", "/v1/images/generations", 200)
    assert ex.request.json["prompt"] == "a kite"
    assert ex.response.json["data"][0]["url"].startswith(upstream.url + "/")
    assert read_cassette(tmp_path / "c").files[httpx.URL(url).path].data == downloaded


def test_a_key_is_written_nowhere_even_where_the_service_echoes_it(upstream: MockServer, tmp_path: Path) -> None:
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c") as rec, httpx.Client(timeout=10) as http:
        submitted = http.post(f"{rec.url}/{TEXT}", headers=AUTH, json={"prompt": f"say {KEY} twice: {KEY_SECRET}"})
        until_completed(http, submitted.json()["status_url"])
        result = http.get(submitted.json()["response_url"], headers=AUTH)
        assert KEY in result.json()["prompt"]  # the service echoed it to the client, who sent it
        http.get(result.json()["images"][0]["url"])
        openai.OpenAI(base_url=f"{rec.url}/v1", api_key=KEY, max_retries=0).images.generate(
            model=OPENAI_TEXT, prompt=f"echo {KEY_ID}", response_format="b64_json"
        )
    files = [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert len(files) >= 6
    for path in files:
        data = path.read_bytes()
        for secret in (KEY, KEY_ID, KEY_SECRET):
            assert secret.encode() not in data, f"{secret} in {path}"
    result_doc = read_cassette(tmp_path / "c").exchanges[-2].response.json
    assert result_doc["prompt"] == "say [redacted] twice: [redacted]"


def test_a_status_stream_passes_through_as_it_comes_and_is_recorded(tmp_path: Path) -> None:
    clock = ManualClock()
    with (
        MockServer(clock=clock) as mock,
        RecordingProxy(upstream=mock.url, cassette=tmp_path / "c") as rec,
        httpx.Client(timeout=10) as http,
    ):
        submitted = http.post(f"{rec.url}/{TEXT}", json={"prompt": "slow"}).json()
        events: list[dict[str, object]] = []
        with http.stream("GET", submitted["status_url"] + "/stream") as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                    # The job cannot finish until the clock moves: a buffered stream would never get here.
                    if len(events) == 1:
                        assert events[0]["status"] != "COMPLETED"
                        clock.advance(3600)
    assert events[-1]["status"] == "COMPLETED"
    assert all(link.startswith(rec.url) for event in events for link in links_in(event))
    stream_ex = read_cassette(tmp_path / "c").exchanges[-1]
    assert stream_ex.operation == "streamRequestStatus" and stream_ex.status == 200
    text = stream_ex.response.body.decode()
    assert text.count("data:") == len(events) and '"COMPLETED"' in text
    assert mock.url in text and rec.url not in text


def test_an_unreachable_upstream_is_a_502_and_the_recorder_carries_on(tmp_path: Path) -> None:
    with MockServer(time_scale=0) as mock, RecordingProxy(upstream=mock.url, cassette=tmp_path / "c") as rec:
        upstream_url = mock.url
        assert httpx.get(f"{rec.url}/_mock/health").status_code == 200
        mock.stop()
        gone = httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "anyone?"}, timeout=10)
        assert gone.status_code == 502
        assert gone.json()["detail"].startswith(f"upstream {upstream_url} unreachable: ConnectError")
        with MockServer(time_scale=0, port=httpx.URL(upstream_url).port) as again:
            assert again.url == upstream_url
            back = httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "back"}, timeout=10)
            assert back.status_code == 200
    # Neither the mock's own route nor the failure is an exchange of the API.
    assert [ex.path for ex in read_cassette(tmp_path / "c").exchanges] == [f"/{TEXT}"]


def test_conformance_passes_on_a_recording_and_names_a_field_taken_out(
    upstream: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "c"
    with RecordingProxy(upstream=upstream.url, cassette=cassette) as rec, httpx.Client(timeout=10) as http:
        submitted = http.post(f"{rec.url}/{TEXT}", json={"prompt": "judge me"}).json()
        until_completed(http, submitted["status_url"])
        http.get(submitted["response_url"])
    assert main(["conformance", "--cassette", str(cassette)]) == 0
    assert "flux-mock conformance passed" in capsys.readouterr().out

    index = json.loads((cassette / "index.json").read_text())
    submit_file = cassette / index["exchanges"][0]["file"]
    doc = json.loads(submit_file.read_text())
    del doc["response"]["body"]["json"]["request_id"]
    submit_file.write_text(json.dumps(doc))
    assert main(["conformance", "--cassette", str(cassette)]) == 1
    assert "request_id" in capsys.readouterr().out


def test_headers_go_through_but_those_for_one_hop_stay_behind(upstream: MockServer, tmp_path: Path) -> None:
    headers = {"Connection": "keep-alive, X-Hop-Only", "X-Hop-Only": "1", "X-Fal-Queue-Priority": "low",
               "User-Agent": "recording-test/1.0"}
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c") as rec:
        assert httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "p"}, headers=headers, timeout=10).status_code == 200
    (ex,) = read_cassette(tmp_path / "c").exchanges
    assert ex.request.headers["x-fal-queue-priority"] == "low"
    assert ex.request.headers["user-agent"] == "recording-test/1.0"
    assert "x-hop-only" not in ex.request.headers and "connection" not in ex.request.headers
