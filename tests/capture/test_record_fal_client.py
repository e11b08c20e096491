"""The real fal-client through a TLS recorder, in front of a TLS mock with a CA of its own, then replayed."""

from __future__ import annotations

import ssl
from pathlib import Path

import fal_client
import httpx
import pytest

from mockserver.cassette.reader import read_cassette
from mockserver.testing import MockServer, RecordingProxy, point_fal_client
from tests.helpers import EDIT, TEXT, png
from tests.recording_helpers import links_in


def test_fal_client_records_a_generation_an_upload_and_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = tmp_path / "cassette"
    with (
        MockServer(time_scale=0, tls_state_dir=tmp_path / "upstream-state") as mock,
        RecordingProxy(
            upstream=mock.url, cassette=cassette, upstream_ca=mock.tls.ca_cert if mock.tls else None,
            tls_state_dir=tmp_path / "recorder-state",
        ) as rec,
    ):
        assert rec.url.startswith("https://") and rec.tls is not None
        # The client trusts the recorder's CA only: every call it makes must go there.
        monkeypatch.setenv("SSL_CERT_FILE", str(rec.tls.bundle))
        with point_fal_client(rec.url, key="fal-id-123456:fal-secret-abcdef"):
            handle = fal_client.submit(TEXT, {"prompt": "a red kite", "seed": 3})
            assert handle.status_url.startswith(rec.url + "/")
            result = handle.get()
            uploaded = fal_client.upload(png(), "image/png")
            edited = fal_client.subscribe(EDIT, {"prompt": "make it blue", "image_url": uploaded})
        for link in [*links_in(result), *links_in(edited), uploaded]:
            assert link.startswith(rec.url + "/"), link
        trusted = ssl.create_default_context(cafile=str(rec.tls.bundle))
        image = httpx.get(result["images"][0]["url"], verify=trusted).content

    recorded = read_cassette(cassette)
    operations = [ex.operation for ex in recorded.exchanges]
    assert operations[0] == "submitKontextMaxTextToImage" and "getRequestResult" in operations
    assert "submitKontextMax" in operations and None not in operations
    assert any(op and "token" in op.lower() for op in operations), operations  # the CDN token fal-client asks for
    edit = recorded.exchanges[operations.index("submitKontextMax")]
    # The upstream got its own link for the uploaded file, not the recorder's.
    assert edit.request.json["image_url"].startswith(mock.url + "/files/")
    assert recorded.files[httpx.URL(uploaded).path].data == png()
    assert recorded.files[httpx.URL(result["images"][0]["url"]).path].data == image

    # Both stopped: a TLS replay gives fal-client the recorded answers, and the same image bytes.
    with MockServer(time_scale=0, tls_state_dir=tmp_path / "replay-state", replay_dir=cassette) as replay:
        assert replay.tls is not None
        monkeypatch.setenv("SSL_CERT_FILE", str(replay.tls.bundle))
        with point_fal_client(replay.url, key="fal-id-123456:fal-secret-abcdef"):
            again = fal_client.subscribe(TEXT, {"prompt": "a red kite", "seed": 3})
        trusted = ssl.create_default_context(cafile=str(replay.tls.bundle))
        replayed = httpx.get(again["images"][0]["url"], verify=trusted)
        assert replay.context.queue.jobs.get(handle.request_id) is None  # answered from the cassette, not simulated
    assert again == {**result, "images": [{**result["images"][0], "url": again["images"][0]["url"]}]}
    assert again["images"][0]["url"] == result["images"][0]["url"].replace(rec.url, replay.url)
    assert replayed.content == image


def test_without_the_upstreams_ca_the_recorder_cannot_reach_it(tmp_path: Path) -> None:
    with (
        MockServer(time_scale=0, tls_state_dir=tmp_path / "upstream-state") as mock,
        RecordingProxy(upstream=mock.url, cassette=tmp_path / "c") as rec,
    ):
        refused = httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "x"}, timeout=10)
    assert refused.status_code == 502
    assert refused.json()["detail"].startswith(f"upstream {mock.url} unreachable")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.json()["detail"]
