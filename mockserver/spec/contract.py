"""The queue lifecycle as the spec states it (``x-contract``): states, their order, and status codes.

The mock's queue routes answer with these codes and the contract tests hold
any server to them, so a code is written once, in the YAML, and checked for
shape when the spec loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class WebhookSchedule:
    """How a webhook that could not be delivered is retried: ``attempts`` in all, the
    waits between them doubling and adding up to ``retry_window_seconds``."""

    attempts: int
    retry_window_seconds: float


@dataclass(frozen=True)
class QueueContract:
    transitions: Mapping[str, tuple[str, ...]]  # each state, and the states that may follow it
    final_state: str
    status_codes: Mapping[str, int]  # the status endpoint's code in each state
    cancel_outcomes: Mapping[str, int]  # the cancel endpoint's code for each outcome
    cancel_unknown: str  # the cancel outcome of a request the server does not know
    result_pending: int  # the result endpoint's code before the final state
    result_final: int  # ... and at it, for a request that did not fail
    unknown_request: int  # status and result of a request the server does not know
    output_images: Mapping[str, str]  # where a result keeps its images, and their fields' names
    # Transitions a server may make that are legal but worth a warning (a re-queue after a runner failure).
    warn_transitions: Mapping[str, tuple[str, ...]]
    run_operation: str | None  # the synchronous run host's operation
    # The webhook's event operation, success status, keys' operation, the oldest timestamp a receiver
    # takes, and what fal says for an output it cannot serialise.
    webhook: Mapping[str, str]
    webhook_schedule: WebhookSchedule | None  # its retries; None when the dialect states none
    # How long a finished request is kept: seconds, and a shorter period for results of at least
    # large_result_bytes (fal's rules); empty when the dialect states none.
    retention: Mapping[str, float]

    @classmethod
    def read(cls, raw: Any) -> QueueContract:
        """The block's contents; ValueError saying what is wrong with them."""
        if not isinstance(raw, Mapping):
            raise ValueError("x-contract is not a mapping")
        transitions = _mapping(raw, "transitions")
        states = {str(s): tuple(str(n) for n in _list(transitions[s], f"transitions.{s}")) for s in transitions}
        final = str(raw.get("final_state"))
        if final not in states:
            raise ValueError(f"final_state {final!r} is not one of the transitions' states")
        status_codes = _codes(raw, "status_codes")
        if set(status_codes) != set(states):
            raise ValueError("status_codes must give a code for every state of transitions, and only for them")
        cancel_outcomes = _codes(raw, "cancel_outcomes")
        cancel_unknown = str(raw.get("cancel_unknown"))
        if cancel_unknown not in cancel_outcomes:
            raise ValueError(f"cancel_unknown {cancel_unknown!r} is not one of cancel_outcomes")
        warned = raw.get("warn_transitions") or {}
        if not isinstance(warned, Mapping) or not set(warned) <= set(states):
            raise ValueError("warn_transitions must map states of transitions to lists of states")
        result_codes = _codes(raw, "result_codes")
        if set(result_codes) != {"pending", "final"}:
            raise ValueError("result_codes must give exactly 'pending' and 'final'")
        return cls(
            transitions=MappingProxyType(states),
            final_state=final,
            status_codes=status_codes,
            cancel_outcomes=cancel_outcomes,
            cancel_unknown=cancel_unknown,
            result_pending=result_codes["pending"],
            result_final=result_codes["final"],
            unknown_request=_code(raw.get("unknown_request"), "unknown_request"),
            output_images=MappingProxyType({str(k): str(v) for k, v in _mapping(raw, "output_images").items()}),
            warn_transitions=MappingProxyType(
                {str(s): tuple(str(n) for n in _list(v, f"warn_transitions.{s}")) for s, v in warned.items()}
            ),
            run_operation=str(raw["run_operation"]) if raw.get("run_operation") is not None else None,
            webhook=MappingProxyType({str(k): str(v) for k, v in _webhook(raw).items() if k not in _SCHEDULE_KEYS}),
            webhook_schedule=_schedule(_webhook(raw)),
            retention=_retention(raw.get("retention")),
        )


def _mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{key} must be a non-empty mapping")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list")
    return value


def _codes(raw: Mapping[str, Any], key: str) -> Mapping[str, int]:
    return MappingProxyType({str(k): _code(v, f"{key}.{k}") for k, v in _mapping(raw, key).items()})


def _code(value: Any, where: str) -> int:
    if type(value) is not int or not 100 <= value <= 599:
        raise ValueError(f"{where} must be an HTTP status code, not {value!r}")
    return value


_RETENTION_KEYS = {"seconds", "large_result_bytes", "large_result_seconds"}


def _retention(raw: Any) -> Mapping[str, float]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, Mapping) or set(raw) != _RETENTION_KEYS:
        raise ValueError(f"retention must give exactly {', '.join(sorted(_RETENTION_KEYS))}")
    values = {str(k): v for k, v in raw.items()}
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf") for v in values.values()):
        raise ValueError("retention values must be positive numbers")
    return MappingProxyType({k: float(v) for k, v in values.items()})


# The keys of x-contract.webhook that give its retry schedule (typed), not names (strings).
_SCHEDULE_KEYS = ("attempts", "retry_window_seconds")


def _webhook(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    value = raw.get("webhook") or {}
    if not isinstance(value, Mapping):
        raise ValueError("webhook must be a mapping")
    return value


def _schedule(webhook: Mapping[str, Any]) -> WebhookSchedule | None:
    given = [key for key in _SCHEDULE_KEYS if key in webhook]
    if not given:
        return None
    if len(given) != len(_SCHEDULE_KEYS):
        raise ValueError(f"webhook must give {' and '.join(_SCHEDULE_KEYS)} together")
    attempts, window = (webhook[key] for key in _SCHEDULE_KEYS)
    if type(attempts) is not int or attempts < 1:
        raise ValueError(f"webhook.attempts must be a whole number >= 1, not {attempts!r}")
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 <= window < math.inf:
        raise ValueError(f"webhook.retry_window_seconds must be a number of seconds >= 0, not {window!r}")
    return WebhookSchedule(attempts, float(window))
