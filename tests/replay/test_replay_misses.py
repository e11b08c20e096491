"""What a replay matches (links alike, a missing seed), and what it does with a request the cassette lacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.testing import MockServer
from tests.helpers import EDIT, TEXT
from tests.replay.recorded_cassette import EDIT_PROMPT, GENERATE, OPENAI_MODEL, PROMPT, Recording


def journal(server: MockServer) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(server.url + "/_mock/journal", timeout=10).json()["entries"]
    return entries


def rules(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["rule"], v["severity"]) for v in entry["violations"]]


@pytest.fixture
def refusing(recording: Recording) -> Iterator[MockServer]:
    with MockServer(time_scale=0, replay_dir=recording.directory, replay_miss="404") as server:
        yield server


def test_a_request_without_a_seed_matches_a_recording_with_one(recording: Recording, replay: MockServer) -> None:
    ticket = httpx.post(f"{replay.url}/{TEXT}", json={"prompt": PROMPT}, timeout=10).json()
    assert ticket["request_id"] == recording.ticket["request_id"]


def test_another_seed_is_another_request(recording: Recording, replay: MockServer) -> None:
    ticket = httpx.post(f"{replay.url}/{TEXT}", json={"prompt": PROMPT, "seed": 8}, timeout=10).json()
    assert ticket["request_id"] != recording.ticket["request_id"]


def test_an_input_link_matches_whatever_it_points_at(recording: Recording, replay: MockServer) -> None:
    # Recorded with a data URI; a new run sends the URL its upload got.
    body = {"prompt": EDIT_PROMPT, "image_url": f"{replay.url}/files/0123456789abcdef01234567/cat.png"}
    ticket = httpx.post(f"{replay.url}/{EDIT}", json=body, timeout=10).json()
    assert ticket == recording.local(recording.edit_ticket, replay.url)
    assert not any(v for e in journal(replay) for v in e["violations"])


def test_a_changed_prompt_is_simulated_and_flagged(recording: Recording, replay: MockServer) -> None:
    with httpx.Client(base_url=replay.url, timeout=10) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "a lighthouse at dawn", "seed": 7}).json()
        assert ticket["request_id"] != recording.ticket["request_id"]
        assert http.get(ticket["status_url"]).json()["status"] == "COMPLETED"  # the mock's own job
        result = http.get(ticket["response_url"]).json()
        assert result["prompt"] == "a lighthouse at dawn"
        assert http.get(result["images"][0]["url"]).status_code == 200
    submit, *later = journal(replay)
    assert rules(submit) == [("replay.miss", "warning")]
    assert "no recorded answer matched POST" in submit["violations"][0]["message"]
    assert "simulated" in submit["violations"][0]["message"]
    # Calls about the job the mock made are not flagged again.
    assert [rules(e) for e in later] == [[], [], []]


def test_a_refusing_replay_answers_a_miss_404_in_the_api_shape(refusing: MockServer) -> None:
    with httpx.Client(base_url=refusing.url, timeout=10) as http:
        fal = http.post(f"/{TEXT}", json={"prompt": "a lighthouse at dawn"})
        openai = http.post(GENERATE, json={"model": OPENAI_MODEL, "prompt": "a blue kite", "response_format": "url"})
    assert fal.status_code == 404 and fal.json()["error_type"] == "replay_miss"
    assert "No recorded exchange matches POST" in fal.json()["detail"]
    assert openai.status_code == 404 and "No recorded exchange" in openai.json()["error"]["message"]
    # A miss, not a client error: the one warning, no response.rejected.
    assert [rules(e) for e in journal(refusing)] == [[("replay.miss", "warning")]] * 2
    assert "answered 404" in journal(refusing)[0]["violations"][0]["message"]


def test_a_refusing_replay_still_answers_what_it_recorded(recording: Recording, refusing: MockServer) -> None:
    ticket = httpx.post(f"{refusing.url}/{TEXT}", json={"prompt": PROMPT, "seed": 7}, timeout=10).json()
    assert ticket["request_id"] == recording.ticket["request_id"]


def test_a_recorded_error_is_replayed_and_noted_as_the_upstream_s(recording: Recording, refusing: MockServer) -> None:
    answer = httpx.get(refusing.url + recording.unknown_status, timeout=10)
    assert answer.status_code == 404 and answer.json()["error_type"] != "replay_miss"
    [entry] = journal(refusing)
    assert rules(entry) == [("fault.injected", "info")]
    assert "cassette exchange" in entry["violations"][0]["message"]


def test_a_replay_still_asks_for_the_key(recording: Recording) -> None:
    with MockServer(time_scale=0, replay_dir=recording.directory, api_key="sesame") as server:
        body = {"prompt": PROMPT, "seed": 7}
        assert httpx.post(f"{server.url}/{TEXT}", json=body, timeout=10).status_code == 401
        ticket = httpx.post(f"{server.url}/{TEXT}", json=body, headers={"authorization": "Key sesame"}, timeout=10)
    assert ticket.json()["request_id"] == recording.ticket["request_id"]


def test_the_mock_s_own_routes_are_never_replayed(refusing: MockServer) -> None:
    assert httpx.get(refusing.url + "/_mock/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(refusing.url + "/", timeout=10, headers={"accept": "text/html"}).status_code in (200, 307)
