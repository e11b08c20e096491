"""A real browser for the dashboard's tests: the system's Chromium, driven by Playwright.

Nothing is downloaded: Playwright is pointed at the installed browser
(``chromium`` on the PATH, or ``FLUX_MOCK_CHROMIUM``). Without one the browser
tests are skipped, saying why, except in CI (``CI`` set), where they fail:
``.ci/run`` installs the browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser_path() -> str | None:
    chosen = os.environ.get("FLUX_MOCK_CHROMIUM")
    if chosen:
        return chosen
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"the dashboard's browser tests must run in CI: {reason}")
    pytest.skip(reason)


def launch_options(executable: str) -> dict[str, Any]:
    # Chromium will not start its sandbox as root (a container's usual user).
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return {"executable_path": executable, "args": args, "headless": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser per module: Playwright's driver keeps an event loop running in this thread
    while it lives, which tests elsewhere that start their own loop must not meet."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    executable = browser_path()
    if executable is None:
        _unavailable("no Chromium found (apt-get install chromium, or set FLUX_MOCK_CHROMIUM)")
    assert executable is not None
    with sync_playwright() as driver:
        launched = driver.chromium.launch(**launch_options(executable))
        yield launched
        launched.close()
