"""The waits between webhook attempts: fal's schedule from the spec, scaled by --time-scale, or the flags' own."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from mockserver.config import Settings
from mockserver.sim.webhook_schedule import delivery_delays, retry_delays
from mockserver.spec.contract import WebhookSchedule
from mockserver.spec.loader import default_spec

SCHEDULE = default_spec().queue_contract("fal").webhook_schedule


def schedule() -> WebhookSchedule:
    assert SCHEDULE is not None, "the shipped spec states fal's retry schedule"
    return SCHEDULE


@pytest.mark.parametrize("scale", [1.0, 0.05, 1e-5])
def test_the_waits_double_and_fill_the_scaled_window(scale: float) -> None:
    spec = schedule()
    delays = retry_delays(spec.attempts, spec.retry_window_seconds, scale)
    assert len(delays) == spec.attempts - 1  # one wait before each retry
    assert all(later == pytest.approx(2 * earlier) for earlier, later in pairwise(delays))
    assert sum(delays) == pytest.approx(spec.retry_window_seconds * scale, rel=1e-12)


def test_time_scale_zero_retries_at_once() -> None:
    spec = schedule()
    assert retry_delays(spec.attempts, spec.retry_window_seconds, 0) == [0.0] * (spec.attempts - 1)


def test_one_attempt_has_no_waits_and_two_wait_the_whole_window() -> None:
    assert retry_delays(1, 7200, 1) == []
    assert retry_delays(2, 60, 0.5) == [30.0]


def test_many_attempts_do_not_overflow() -> None:
    delays = retry_delays(5000, 60, 1)
    assert len(delays) == 4999 and sum(delays) == pytest.approx(60)


def test_default_settings_follow_the_spec_at_the_time_scale() -> None:
    spec = schedule()
    for scale in (1.0, 0.05):
        expected = retry_delays(spec.attempts, spec.retry_window_seconds, scale)
        assert delivery_delays(Settings(time_scale=scale), spec) == expected


def test_the_flags_override_the_count_and_the_waits() -> None:
    spec = schedule()
    # --webhook-attempts alone: that many attempts, the spec's window still filled.
    three = delivery_delays(Settings(webhook_attempts=3), spec)
    assert len(three) == 2 and sum(three) == pytest.approx(spec.retry_window_seconds)
    # --webhook-backoff alone: the spec's count, doubling from the given wait, unscaled.
    backoff = delivery_delays(Settings(webhook_backoff_seconds=0.5, time_scale=0.01), spec)
    assert backoff == [0.5 * 2**n for n in range(spec.attempts - 1)]
    assert delivery_delays(Settings(webhook_attempts=3, webhook_backoff_seconds=0.01), spec) == [0.01, 0.02]


def test_without_a_schedule_in_the_spec_a_webhook_is_sent_once() -> None:
    assert delivery_delays(Settings(), None) == []
    assert delivery_delays(Settings(webhook_attempts=3), None) == [0.0, 0.0]


@pytest.mark.parametrize(
    "options", [{"webhook_attempts": 0}, {"webhook_attempts": 1001}, {"webhook_backoff_seconds": -1.0}]
)
def test_settings_refuse_impossible_schedules(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="webhook"):
        Settings(**options)
