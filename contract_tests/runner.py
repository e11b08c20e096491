"""``flux-mock conformance``: the server suite as a command (a thin wrapper over pytest)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest


def conformance_args(
    target: str,
    *,
    api_key: str | None = None,
    endpoints: Sequence[str] | None = None,
    junit: str | None = None,
    apis: Sequence[str] | None = None,
    run_target: str | None = None,
    webhooks: bool = False,
    webhook_keys: str | None = None,
    extensions: bool = False,
    poll_interval: float | None = None,
    poll_timeout: float | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = ["--pyargs", "contract_tests", "-p", "no:cacheprovider", "--target", target]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "contract_tests.plugin"]
    if api_key:
        args += ["--api-key", api_key]
    for endpoint in endpoints or ():
        args += ["--endpoint", endpoint]
    for api in apis or ():
        args += ["--api", api]
    if run_target:
        args += ["--run-target", run_target]
    if webhooks:
        args.append("--webhooks")
    if webhook_keys:
        args += ["--webhook-keys", webhook_keys]
    if extensions:
        args.append("--extensions")
    if poll_interval is not None:
        args += ["--poll-interval", str(poll_interval)]
    if poll_timeout is not None:
        args += ["--poll-timeout", str(poll_timeout)]
    if junit:
        args += ["--junitxml", junit]
    return [*args, *extra]


def run_conformance(target: str, **options: Any) -> int:
    """Run the suite; ``options`` are those of :func:`conformance_args`."""
    return int(pytest.main(conformance_args(target, **options)))
