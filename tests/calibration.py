"""What the calibration tests share: the ready-made scenarios, moving time, reading verdicts."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from mockserver.kit.journal import Entry
from mockserver.testing import MockServer

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "scenarios").glob("*.yaml"))
# Effects that make the mock answer an error (noted as info in the journal).
ERROR_EFFECTS = {"error", "ingress_error", "timeout", "drop", "corrupt_body", "fail"}


def move_time_while(mock: MockServer, done: threading.Event) -> threading.Thread:
    """Move simulated time on while a client waits, so slow-queue's held jobs finish without real waiting."""

    def tick() -> None:
        while not done.wait(0.05):
            httpx.post(f"{mock.url}/_mock/clock", json={"advance": 20}, timeout=5)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    return thread


def severities(entries: list[Entry], severity: str) -> list[str]:
    """One line per verdict of ``severity``, naming the request, for assertion messages."""
    return [f"#{e.seq} {e.method} {e.path} -> {e.status}: [{v.rule}] {v.message}"
            for e in entries for v in e.violations if v.severity == severity]


def fired_effects(mock: MockServer) -> set[str]:
    """The effect types of the scenario rules that fired at least once."""
    listing = httpx.get(f"{mock.url}/_mock/scenarios").json()["rules"]
    return {r["effect"]["type"] for r in listing if r["fired"]}
