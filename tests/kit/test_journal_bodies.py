"""The body the app read, journalled however it came: in pieces, refused part-way, as a form,
through the proxy route, or only while a scenario waited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx

from mockserver.sim.clock import ManualClock
from mockserver.testing import MockServer
from tests.faults_helpers import add_rule

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"


def client(server: MockServer, test_id: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Mock-Test-Id": test_id}, timeout=10)


def entries(server: MockServer) -> list[dict[str, Any]]:
    page = httpx.get(f"{server.url}/_mock/journal")
    assert page.status_code == 200
    found: list[dict[str, Any]] = page.json()["entries"]
    return found


def test_the_body_the_app_read_is_journalled_however_it_came(clock: ManualClock) -> None:
    body = b'{"prompt": "sent in pieces"}'

    def pieces(*parts: bytes) -> Iterator[bytes]:  # no length: chunked
        yield from parts

    json_type = {"Content-Type": "application/json"}
    with MockServer(clock=clock, max_body_bytes=400) as small:
        with client(small, "pieces") as http:
            assert http.post(f"/{TEXT}", content=pieces(body[:7], body[7:]), headers=json_type).status_code == 200
        with client(small, "over") as http:  # read until it crossed the limit, then refused
            assert http.post(f"/{TEXT}", content=pieces(*[b"x" * 50] * 10), headers=json_type).status_code == 413
        with client(small, "declared") as http:  # refused by its length, before a byte was read
            assert http.post(f"/{TEXT}", content=b"x" * 500, headers=json_type).status_code == 413
        with client(small, "form") as http:
            files = {"image": ("a.png", b"\x89PNG", "image/png")}
            http.post("/v1/images/edits", data={"prompt": "p", "model": "flux-kontext-max"}, files=files)
        with client(small, "proxied") as http:  # read by the target route, journalled for both calls
            target = {"x-fal-target-url": f"https://queue.fal.run/{TEXT}"}
            assert http.post("/api/fal/proxy", json={"prompt": "via"}, headers=target).status_code == 200
        for rule in ({"type": "latency", "ms": 50}, {"type": "error", "status": 503}):
            add_rule(small.url, {"match": {"operation": "storage.upload"}, "effect": rule}, "waited")
        with client(small, "waited") as http:  # read while the scenario waited, never by the route
            assert http.post("/files/upload", content=b"0123456789").status_code == 503
        found: dict[str, list[Any]] = {}
        for entry in entries(small):
            found.setdefault(entry["test_id"], []).append(entry["body"])
    assert found["pieces"] == [{"prompt": "sent in pieces"}]
    assert re.fullmatch(r"\((4[0-9]{2}|500) bytes, not JSON\)", found["over"][0])
    assert found["declared"] == [None]
    assert re.fullmatch(r"\([0-9]{3} bytes, not JSON\)", found["form"][0])
    assert found["proxied"] == [{"prompt": "via"}, {"prompt": "via"}]  # the target's entry, the proxy's
    assert found["waited"] == ["(10 bytes, not JSON)"]
