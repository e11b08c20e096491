"""A replaying mock answers a recorded fal lifecycle and an OpenAI-compatible call as the upstream did."""

from __future__ import annotations

import json
from typing import Any

import httpx

from mockserver.testing import MockServer
from tests.helpers import CYAN, TEXT, png
from tests.replay.recorded_cassette import EDITS, EDITS_PROMPT, GENERATE, OPENAI_MODEL, PROMPT, Recording


def events(stream: str) -> list[Any]:
    """A status stream's events (the recorder writes the JSON of each compactly, the mock does not)."""
    return [json.loads(line[len("data:"):]) for line in stream.splitlines() if line.startswith("data:")]


def test_the_fal_lifecycle_answers_as_recorded(recording: Recording, replay: MockServer) -> None:
    with httpx.Client(base_url=replay.url, timeout=10) as http:
        submitted = http.post(f"/{TEXT}", json={"prompt": PROMPT, "seed": 7})
        ticket = submitted.json()
        assert ticket == recording.local(recording.ticket, replay.url)
        assert ticket["request_id"] == recording.ticket["request_id"]
        assert submitted.headers["x-fal-request-id"] == recording.ticket["request_id"]
        assert ticket["status_url"].startswith(replay.url + "/")
        polls = [http.get(ticket["status_url"]) for _ in range(5)]
        # One recorded answer per poll, in order; the last one again once they are used up.
        assert [p.json()["status"] for p in polls] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "COMPLETED", "COMPLETED"]
        assert [p.status_code for p in polls[:3]] == recording.poll_codes
        assert polls[2].json() == recording.local(recording.statuses[2], replay.url)
        stream = http.get(ticket["status_url"] + "/stream")
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert events(stream.text) == recording.local(events(recording.stream), replay.url)
        result = http.get(ticket["response_url"]).json()
        assert result == recording.local(recording.result, replay.url)
        image = http.get(result["images"][0]["url"])
    assert httpx.URL(result["images"][0]["url"]).path == recording.image_path
    assert image.content == recording.image and image.headers["content-type"] == "image/jpeg"


def test_the_openai_api_answers_as_recorded(recording: Recording, replay: MockServer) -> None:
    with httpx.Client(base_url=replay.url, timeout=10) as http:
        answer = http.post(GENERATE, json={"model": OPENAI_MODEL, "prompt": "a red kite", "response_format": "url"})
        # The recorded request id, once: the front stamps no id of its own on a replayed answer.
        assert answer.headers.get_list("x-request-id") == [recording.generation_id]
        assert answer.json() == recording.local(recording.generation, replay.url)
        link = answer.json()["data"][0]["url"]
        assert link.startswith(replay.url + "/files/")
        assert http.get(link).content == recording.generated


def test_a_multipart_edit_matches_by_its_fields_whatever_the_file(recording: Recording, replay: MockServer) -> None:
    other = {"image": ("other.png", png((40, 40), CYAN), "image/png")}
    with httpx.Client(base_url=replay.url, timeout=10) as http:
        same = http.post(EDITS, data={"prompt": EDITS_PROMPT}, files=other)
        changed = http.post(EDITS, data={"prompt": "add a top hat"}, files=other)
    recorded = recording.local(recording.edited, replay.url)
    assert same.json() == recorded
    assert changed.status_code == 200 and changed.json()["data"] != recorded["data"]  # simulated: a new image


def test_links_follow_the_address_the_client_used(recording: Recording, replay: MockServer) -> None:
    # The same server reached under another name (as through a proxy): links name that address.
    other = replay.url.replace("127.0.0.1", "localhost")
    ticket = httpx.post(f"{other}/{TEXT}", json={"prompt": PROMPT, "seed": 7}, timeout=10).json()
    assert ticket["response_url"] == recording.ticket["response_url"].replace(recording.upstream, other)


def test_replayed_traffic_is_journalled_and_judged(recording: Recording, replay: MockServer) -> None:
    with httpx.Client(base_url=replay.url, timeout=10) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": PROMPT, "seed": 7}).json()
        http.get(ticket["response_url"])  # before any status said COMPLETED
        entries = http.get("/_mock/journal").json()["entries"]
    submit, early = entries[-2:]
    assert (submit["operation"], submit["request_id"]) == ("submitKontextMaxTextToImage", ticket["request_id"])
    assert submit["violations"] == []
    assert [v["rule"] for v in early["violations"]] == ["queue.result-before-completed"]
