"""When a webhook delivery that failed is tried again: fal's schedule, scaled like the rest of the simulation.

fal retries a delivery that fails over two hours; the spec's
``x-contract.webhook`` holds the count and the window. The mock keeps that
shape: each wait doubles the one before, and together they fill the window
multiplied by ``time_scale``, so at ``--time-scale 0.05`` the two hours take
six minutes and at 0 every retry follows at once. ``--webhook-attempts``
replaces the count (the window stays); ``--webhook-backoff`` replaces the
waits with its own doubling ones, in real seconds, not scaled.
"""

from __future__ import annotations

import math

from mockserver.config import Settings
from mockserver.spec.contract import WebhookSchedule


def retry_delays(attempts: int, window: float, scale: float) -> list[float]:
    """The waits before each retry (``attempts - 1`` of them): doubling, and adding up to ``window * scale``."""
    retries = attempts - 1
    total = window * scale
    # total * 2**n / (2**retries - 1), written with ldexp so no power of two overflows a float.
    share = 1.0 - math.ldexp(1.0, -retries)
    return [math.ldexp(total, n - retries) / share for n in range(retries)]


def doubling(first: float, retries: int) -> list[float]:
    """``first``, then twice it, and so on: the waits ``--webhook-backoff`` asks for."""
    return [first * 2**n for n in range(retries)]


def delivery_delays(settings: Settings, schedule: WebhookSchedule | None) -> list[float]:
    """The waits between one webhook's attempts (one fewer than the attempts).

    Without a schedule in the spec and without ``--webhook-attempts`` a webhook is
    delivered once, not retried.
    """
    attempts = settings.webhook_attempts or (schedule.attempts if schedule else 1)
    if settings.webhook_backoff_seconds is not None:
        return doubling(settings.webhook_backoff_seconds, attempts - 1)
    window = schedule.retry_window_seconds if schedule else 0.0
    return retry_delays(attempts, window, settings.time_scale)
