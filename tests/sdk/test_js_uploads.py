"""Large uploads through the real `@fal-ai/client`: one PUT below its 90 MiB threshold, parts above.

The client initiates through its proxy route and sends the bytes straight to
the URLs it was given. The package comes from the session's `npm install`
(``js_project`` in conftest.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.testing import MockServer
from tests.helpers import run_node

RUN_TIMEOUT = 120
MIB = 1024 * 1024
SIZES = {"parts": 95 * MIB, "single": 40 * MIB}  # either side of the client's 90 MiB

SCRIPT = """
import { fal } from "@fal-ai/client";
import { createHash, randomBytes } from "node:crypto";

const [proxyUrl, sizes] = process.argv.slice(2);
fal.config({ proxyUrl: { url: proxyUrl, when: "always" } });
const out = {};
for (const [label, size] of Object.entries(JSON.parse(sizes))) {
  const bytes = randomBytes(size);
  const url = await fal.storage.upload(new Blob([bytes], { type: "video/mp4" }));
  out[label] = { url, sha256: createHash("sha256").update(bytes).digest("hex") };
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def js_mock() -> Iterator[MockServer]:
    with MockServer(time_scale=0) as mock:
        yield mock


@pytest.fixture(scope="module")
def uploaded(js_project: Path, js_mock: MockServer) -> dict[str, Any]:
    proxy = f"{js_mock.url}/api/fal/proxy"
    return run_node(js_project, "uploads.mjs", SCRIPT, proxy, json.dumps(SIZES), timeout=RUN_TIMEOUT)


def digest_of(url: str) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=60) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
        for chunk in answer.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


def journal(mock: MockServer) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{mock.url}/_mock/journal").json()["entries"]
    return entries


@pytest.mark.parametrize("label", list(SIZES))
def test_uploads_round_trip_byte_for_byte(uploaded: dict[str, Any], label: str) -> None:
    assert digest_of(uploaded[label]["url"]) == uploaded[label]["sha256"]


def test_the_large_blob_went_in_ten_mib_parts_and_the_calls_were_clean(
    uploaded: dict[str, Any], js_mock: MockServer
) -> None:
    entries = journal(js_mock)
    called = [f"{e['method']} {e['path']}" for e in entries]
    parts = [c for c in called if c.startswith("PUT ") and "/multipart/" in c]
    assert len(parts) == 10  # 95 MiB in 10 MiB parts
    assert "POST /storage/upload/initiate-multipart" in called  # through the proxy route
    assert sum(c.endswith("/complete") for c in called) == 1
    assert "POST /storage/upload/initiate" in called  # the 40 MiB one: one PUT
    assert all(e["status"] == 200 for e in entries if not e["path"].startswith("/files/") or e["method"] != "GET")
    assert not [v for e in entries for v in e["violations"] if v["severity"] == "error"]
