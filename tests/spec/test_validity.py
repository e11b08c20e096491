"""The fast validity check is only a shortcut: without jsonschema_rs the mock answers every body the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.spec.validity import available

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: serve the mock, send each body, print what came back
# (request ids, which differ on every run, left out). With "block", jsonschema_rs cannot be imported.
SCRIPT = r"""
import importlib.abc, json, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "jsonschema_rs" or name.startswith("jsonschema_rs."):
            raise ImportError("blocked: " + name)
        return None

if sys.argv[1] == "block":
    sys.meta_path.insert(0, Blocker())

import httpx
from mockserver.spec.validity import available
from mockserver.testing import MockServer

def scrubbed(answer):
    try:
        body = answer.json()
    except ValueError:
        return [answer.status_code, None]
    if answer.status_code < 300:
        return [answer.status_code, sorted(body) if isinstance(body, dict) else None]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"].pop("param", None)  # the OpenAI dialect quotes the request id here
    return [answer.status_code, body]

cases = json.loads(sys.stdin.read())
out = {"available": available(), "answers": []}
with MockServer(time_scale=0) as mock, httpx.Client(base_url=mock.url) as client:
    for method, path, text in cases:
        answer = client.request(method, path, content=text.encode(), headers={"content-type": "application/json"})
        out["answers"].append(scrubbed(answer))
print(json.dumps(out))
"""

FAL = "/fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "/fal-ai/flux-pro/kontext/max"
OPENAI = "/v1/images/generations"
T2I = "black-forest-labs/flux-kontext-max/text-to-image"
BODIES: list[tuple[str, str, str]] = [
    ("POST", FAL, '{"prompt": "a lighthouse"}'),
    ("POST", FAL, '{"prompt": "a lighthouse", "num_images": 2.0, "seed": 1180591620717411303424}'),
    ("POST", FAL, '{"prompt": "a lighthouse", "num_images": true}'),
    ("POST", FAL, '{"prompt": "a lighthouse", "num_images": 1.5, "guidance_scale": "3"}'),
    ("POST", FAL, '{"prompt": "a lighthouse", "aspect_ratio": "1:1\\n", "output_format": "gif"}'),
    ("POST", FAL, '{"prompt": "\\ud83d\\ude00", "seed": -1e300}'),
    ("POST", FAL, '{"prompt": "a lighthouse", "unknown": [1, {"a": null}]}'),
    ("POST", FAL, '{"prompt": ""}'),
    ("POST", FAL, '{}'),
    ("POST", FAL, '[]'),
    ("POST", FAL, '"prompt"'),
    ("POST", EDIT, '{"prompt": "edit", "image_url": "not a url"}'),
    ("POST", EDIT, '{"prompt": "edit", "image_url": "data:,"}'),
    ("POST", EDIT, '{"prompt": "edit", "image_url": "https://example.invalid/a.png", "seed": 18446744073709551617}'),
    ("POST", OPENAI, json.dumps({"model": T2I, "prompt": "x"})),
    ("POST", OPENAI, json.dumps({"model": T2I, "prompt": "x", "n": 9, "steps": 0.5, "response_format": "png"})),
    ("POST", OPENAI, json.dumps({"model": T2I, "prompt": "x", "n": 2.0, "guidance_scale": 10})),
    ("POST", OPENAI, json.dumps({"model": "nope", "prompt": "x"})),
    ("POST", "/_mock/scenarios", '{"match": {"path": "/x"}, "times": 2, "effect": {"type": "error", "status": 429}}'),
    ("POST", "/_mock/scenarios", '{"match": {"headers": {"bad header": "x"}}, "effect": {"type": "error"}}'),
    ("POST", "/_mock/scenarios", '{"match": {"method": "POST"}, "times": 2.0, "effect": {"type": "latency"}}'),
    ("POST", "/_mock/scenarios", '{"nope": 1}'),
    ("POST", "/_mock/clock", '{"advance": -5}'),
    ("POST", "/_mock/clock", '{"advance": 5}'),
    ("POST", "/storage/upload/initiate", '{"file_name": "a.png"}'),
    ("POST", "/storage/upload/initiate", '{"file_name": 5, "content_type": []}'),
]


def _answers(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        input=json.dumps(BODIES), capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.skipif(not available(), reason="jsonschema_rs is not installed: there is nothing to compare")
def test_the_mock_answers_every_body_the_same_without_jsonschema_rs() -> None:
    fast, alone = _answers("fast"), _answers("block")
    assert fast["available"] is True and alone["available"] is False
    assert fast["answers"] == alone["answers"]
    statuses = [status for status, _ in fast["answers"]]  # type: ignore[attr-defined]
    assert 200 in statuses and 422 in statuses and 400 in statuses  # both verdicts, in both dialects
