"""Shared bits of the sample clients: where the mock is, and a tiny queue client."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import httpx

BASE = os.environ["FLUX_MOCK_URL"]
HEADERS = {"Authorization": f"Key {os.environ['FAL_KEY']}"}
TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"


def submit(body: Any, endpoint: str = TEXT) -> httpx.Response:
    return httpx.post(f"{BASE}/{endpoint}", json=body, headers=HEADERS)


def wait(ticket: dict[str, Any], interval: float = 0.1) -> dict[str, Any]:
    """Poll the returned status URL politely until COMPLETED, then fetch the returned result URL."""
    while True:
        status = httpx.get(ticket["status_url"], headers=HEADERS).json()
        if status["status"] == "COMPLETED":
            result: dict[str, Any] = httpx.get(ticket["response_url"], headers=HEADERS).json()
            return result
        time.sleep(interval)


def done(message: str) -> None:
    print(message)
    sys.exit(0)
