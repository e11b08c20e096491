"""The JavaScript `@fal-ai/client` (and the `openai` npm package) against the mock, through the proxy route.

The packages come from the session's one `npm install` (``js_project`` in
conftest.py); the tests skip only when node or npm is not installed.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from mockserver.testing import MockServer
from tests.helpers import magenta_pixels, png, run_node

RUN_TIMEOUT = 60

SCRIPT = """
import { fal } from "@fal-ai/client";
import OpenAI from "openai";

const [proxyUrl, base, pngBase64] = process.argv.slice(2);
fal.config({ proxyUrl: { url: proxyUrl, when: "always" } });
const T2I = "fal-ai/flux-pro/kontext/max/text-to-image";
const out = {};

const updates = [];
const sub = await fal.subscribe(T2I, {
  input: { prompt: "a paper boat", aspect_ratio: "21:9", seed: 9 },
  logs: true,
  onQueueUpdate: (u) => updates.push(u.status),
});
out.subscribe = { data: sub.data, requestId: sub.requestId, updates };

const { request_id } = await fal.queue.submit(T2I, { input: { prompt: "a second boat", seed: 4 } });
let status = await fal.queue.status(T2I, { requestId: request_id, logs: true });
for (let i = 0; status.status !== "COMPLETED" && i < 200; i++) {
  await new Promise((r) => setTimeout(r, 50));
  status = await fal.queue.status(T2I, { requestId: request_id, logs: true });
}
const result = await fal.queue.result(T2I, { requestId: request_id });
out.queue = { status: status.status, seed: result.data.seed, requestId: result.requestId, submitted: request_id };

// Queue headers: the client sends x-fal-queue-priority (always) and x-fal-request-timeout.
const hinted = await fal.queue.submit(T2I, { input: { prompt: "hinted" }, priority: "low", startTimeout: 30 });
out.hinted = hinted.request_id;

// Streaming on the run host: progress events, then the output.
const stream = await fal.stream(T2I, { input: { prompt: "a streamed boat", seed: 21 } });
const seen = [];
for await (const event of stream) seen.push(event.status ?? "output");
const streamed = await stream.done();
out.stream = { seen, seed: streamed.seed, image: streamed.images[0] };

const ran = await fal.run(T2I, { input: { prompt: "a third boat", aspect_ratio: "9:16" } });
out.run = ran.data.images[0];

// A Blob in the input is uploaded first (initiate on the REST host, then PUT), then replaced by its URL.
const png = new Blob([Buffer.from(pngBase64, "base64")], { type: "image/png" });
const edited = await fal.subscribe("fal-ai/flux-pro/kontext/max", { input: { prompt: "frame it", image_url: png } });
out.edit = edited.data.images[0];

try {
  await fal.queue.submit("fal-ai/flux-pro/kontext/max", { input: { prompt: "no image" } });
  out.invalid = "accepted";
} catch (err) {
  out.invalid = { status: err.status, body: err.body };
}

const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "js-key", maxRetries: 0 });
try {
  const answer = await openai.images.generate({
    model: "black-forest-labs/flux-kontext-max/text-to-image", prompt: "a boat", aspect_ratio: "16:9",
  });
  out.openai = ["ok", answer.data[0].url ?? answer.data[0].b64_json?.slice(0, 30)];
} catch (err) {
  out.openai = ["status", err.status ?? null, String(err.message ?? err)];
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def js_mock() -> Iterator[MockServer]:
    with MockServer(time_scale=0) as mock:
        yield mock


@pytest.fixture(scope="module")
def js_out(js_project: Path, js_mock: MockServer) -> dict[str, Any]:
    """The script's findings: every check below reads them, so node runs once."""
    png_base64 = base64.b64encode(png((600, 400))).decode()
    args = (f"{js_mock.url}/api/fal/proxy", js_mock.url, png_base64)
    return run_node(js_project, "check.mjs", SCRIPT, *args, timeout=RUN_TIMEOUT)


def test_subscribe_through_the_proxy_route(js_out: dict[str, Any]) -> None:
    sub = js_out["subscribe"]
    image = sub["data"]["images"][0]
    assert (image["width"], image["height"]) == (1568, 672)  # 21:9
    assert sub["data"]["seed"] == 9
    assert sub["updates"][-1] == "COMPLETED"
    assert sub["requestId"]  # read from x-fal-request-id, which the proxy passes through
    fetched = httpx.get(image["url"])
    assert fetched.status_code == 200
    assert Image.open(io.BytesIO(fetched.content)).size == (1568, 672)


def test_submit_status_result_and_run(js_out: dict[str, Any], js_mock: MockServer) -> None:
    queue = js_out["queue"]
    assert queue["status"] == "COMPLETED"
    assert queue["seed"] == 4
    assert queue["requestId"] == queue["submitted"]
    assert js_mock.context.queue.jobs.get(queue["submitted"]) is not None  # it really went to this mock
    assert (js_out["run"]["width"], js_out["run"]["height"]) == (752, 1392)


def test_blob_input_is_uploaded_and_shows_in_the_edit(js_out: dict[str, Any]) -> None:
    image = js_out["edit"]
    assert (image["width"], image["height"]) == (1248, 832)  # 3:2, the blob's shape
    assert magenta_pixels(httpx.get(image["url"]).content) > 5000


def test_validation_errors_reach_the_js_client(js_out: dict[str, Any]) -> None:
    assert js_out["invalid"]["status"] == 422
    assert js_out["invalid"]["body"]["detail"][0]["loc"] == ["body", "image_url"]


def test_openai_js_client_reaches_the_mock(js_out: dict[str, Any]) -> None:
    kind, detail = js_out["openai"][0], js_out["openai"][1]
    assert kind == "ok", js_out["openai"]
    assert "/files/" in detail  # an image URL on the mock


def test_priority_and_start_timeout_reach_the_queue(js_out: dict[str, Any], js_mock: MockServer) -> None:
    hinted = js_mock.context.queue.jobs.get(js_out["hinted"])
    assert hinted is not None and hinted.low_priority
    assert hinted.start_deadline is not None and hinted.start_deadline - hinted.submitted_at == pytest.approx(30)
    plain = js_mock.context.queue.jobs.get(js_out["queue"]["submitted"])
    assert plain is not None and not plain.low_priority  # the client's "normal" on every submit
    assert plain.start_deadline is None


def test_stream_through_the_proxy_ends_with_the_output(js_out: dict[str, Any]) -> None:
    streamed = js_out["stream"]
    assert streamed["seen"][-1] == "output" and streamed["seed"] == 21
    assert set(streamed["seen"][:-1]) <= {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"}
    assert httpx.get(streamed["image"]["url"]).status_code == 200
