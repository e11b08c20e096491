"""``flux-mock conformance``: the server suite as a command (a thin wrapper over pytest)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest


def conformance_args(
    target: str,
    *,
    api_key: str | None = None,
    endpoints: Sequence[str] | None = None,
    junit: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = ["--pyargs", "contract_tests", "-p", "no:cacheprovider", "--target", target]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "contract_tests.plugin"]
    if api_key:
        args += ["--api-key", api_key]
    for endpoint in endpoints or ():
        args += ["--endpoint", endpoint]
    if junit:
        args += ["--junitxml", junit]
    return [*args, *extra]


def run_conformance(
    target: str,
    *,
    api_key: str | None = None,
    endpoints: Sequence[str] | None = None,
    junit: str | None = None,
    extra: Sequence[str] = (),
) -> int:
    return int(pytest.main(conformance_args(target, api_key=api_key, endpoints=endpoints, junit=junit, extra=extra)))
