"""A cassette recorded through the recording proxy from a real upstream mock, and what the client saw.

The upstream runs in step mode at time scale 0: each status poll moves its job
one state on, so the recorded polls say IN_QUEUE, IN_PROGRESS, COMPLETED, and
a replay that gives them back in another order is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mockserver.testing import MockServer, RecordingProxy
from tests.har_writer import HarWriter
from tests.helpers import EDIT, MAGENTA, TEXT, data_uri, png

PROMPT = "a lighthouse at dusk"
EDIT_PROMPT = "paint the door blue"
GENERATE = "/v1/images/generations"
EDITS = "/v1/images/edits"
EDITS_PROMPT = "add a straw hat"
OPENAI_MODEL = "black-forest-labs/flux-kontext-max/text-to-image"


@dataclass(frozen=True)
class Recording:
    directory: Path
    upstream: str  # the address the recording client used: the stopped recorder's
    source: str  # the stopped upstream mock's
    har: Path  # the same exchanges, as the client saw them, in a HAR file
    ticket: dict[str, Any]  # the submit's answer
    statuses: list[dict[str, Any]]  # the polls' answers, in order
    poll_codes: list[int]
    stream: str  # the status stream's body
    result: dict[str, Any]
    image: bytes
    image_path: str
    edit_ticket: dict[str, Any]  # a submit whose input was a data URI
    generation: dict[str, Any]  # the OpenAI-compatible API's answer
    generation_id: str  # its request id header
    generated: bytes  # the image it linked to
    edited: dict[str, Any]  # a multipart edit's answer
    unknown_status: str  # a status URL the upstream answered 404 for

    def local(self, value: Any, base: str) -> Any:
        """``value`` with the upstream's links pointing at ``base``, as a replay answers it."""
        if isinstance(value, str):
            return value.replace(self.upstream, base)
        if isinstance(value, dict):
            return {k: self.local(v, base) for k, v in value.items()}
        if isinstance(value, list):
            return [self.local(v, base) for v in value]
        return value


def record(directory: Path) -> Recording:
    har = HarWriter()
    with MockServer(time_scale=0, step_mode=True) as upstream, RecordingProxy(
        upstream=upstream.url, cassette=directory
    ) as recorder, httpx.Client(base_url=recorder.url, event_hooks=har.hooks(), timeout=10) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": PROMPT, "seed": 7}).json()
        polls = [http.get(ticket["status_url"]) for _ in range(3)]
        stream = http.get(ticket["status_url"] + "/stream").text
        result = http.get(ticket["response_url"]).json()
        image_url = result["images"][0]["url"]
        image = http.get(image_url).content
        edit_ticket = http.post(f"/{EDIT}", json={"prompt": EDIT_PROMPT, "image_url": data_uri()}).json()
        answer = http.post(GENERATE, json={"model": OPENAI_MODEL, "prompt": "a red kite", "response_format": "url"})
        generated = http.get(answer.json()["data"][0]["url"]).content
        files = {"image": ("in.png", png((32, 32), MAGENTA), "image/png")}
        edited = http.post(EDITS, data={"prompt": EDITS_PROMPT}, files=files).json()
        unknown_status = "/fal-ai/flux-pro/requests/00000000-0000-4000-8000-000000000000/status"
        assert http.get(unknown_status).status_code == 404
    return Recording(
        directory=directory,
        upstream=recorder.url,
        source=upstream.url,
        har=har.save(directory.with_suffix(".har")),
        ticket=ticket,
        statuses=[p.json() for p in polls],
        poll_codes=[p.status_code for p in polls],
        stream=stream,
        result=result,
        image=image,
        image_path=httpx.URL(image_url).path,
        edit_ticket=edit_ticket,
        generation=answer.json(),
        generation_id=answer.headers["x-request-id"],
        generated=generated,
        edited=edited,
        unknown_status=unknown_status,
    )


