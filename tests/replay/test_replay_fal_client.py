"""The real fal-client package against a replaying mock: the recorded result, uploads simulated."""

from __future__ import annotations

import fal_client

from mockserver.testing import MockServer, point_fal_client
from tests.helpers import EDIT, TEXT, png
from tests.replay.recorded_cassette import EDIT_PROMPT, PROMPT, Recording


def test_subscribe_returns_the_recorded_result(recording: Recording, replay: MockServer) -> None:
    updates: list[object] = []
    with point_fal_client(replay.url):
        result = fal_client.subscribe(TEXT, {"prompt": PROMPT, "seed": 7}, on_queue_update=updates.append)
    assert result == recording.local(recording.result, replay.url)
    assert [type(u).__name__ for u in updates] == ["Queued", "InProgress", "Completed"]


def test_an_upload_is_simulated_and_the_submit_using_it_still_matches(recording: Recording, replay: MockServer) -> None:
    with point_fal_client(replay.url):
        url = fal_client.upload(png(), "image/png")
        handle = fal_client.submit(EDIT, {"prompt": EDIT_PROMPT, "image_url": url})
    assert url.startswith(replay.url + "/")
    assert handle.request_id == recording.edit_ticket["request_id"]
