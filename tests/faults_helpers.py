"""Shared by the scenario tests: adding rules and pointing fal-client at a mock."""

from __future__ import annotations

from typing import Any

import fal_client
import fal_client.client
import httpx
import pytest

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
TEST_ID = "X-Mock-Test-Id"


def add_rule(url: str, rule: dict[str, Any], test_id: str | None = None) -> dict[str, Any]:
    headers = {TEST_ID: test_id} if test_id else {}
    response = httpx.post(f"{url}/_mock/scenarios", json=rule, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def rules(url: str, test_id: str | None = None) -> dict[str, dict[str, Any]]:
    headers = {TEST_ID: test_id} if test_id else {}
    listing = httpx.get(f"{url}/_mock/scenarios", headers=headers).json()["rules"]
    return {rule["id"]: rule for rule in listing}


def fal_client_for(url: str, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    """A real fal-client aimed at the mock, with its retry pauses made short (they are real sleeps)."""
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{url}/")
    monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", f"{url}/run/")
    monkeypatch.setattr(fal_client.client, "BASE_DELAY", 0.01)
    monkeypatch.setattr(fal_client.client, "MAX_DELAY", 0.02)
    return fal_client.SyncClient(key="test-key", default_timeout=10)
