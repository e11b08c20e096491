"""Draw docs/dashboard.png: the dashboard's jobs page after a little traffic, in the system's Chromium.

    .venv/bin/python docs/dashboard_screenshot.py [path/to/chromium]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mockserver.sim.clock import ManualClock  # noqa: E402
from mockserver.testing import MockServer  # noqa: E402

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
PROMPTS = ["a lighthouse at dusk", "a red fox in fresh snow", "a bowl of ramen, top view", "a paper boat on a pond"]


def main() -> None:
    executable = sys.argv[1] if len(sys.argv) > 1 else shutil.which("chromium")
    if executable is None:
        sys.exit("no chromium found: give its path")
    clock = ManualClock()
    with MockServer(clock=clock, concurrency=2) as mock, httpx.Client(base_url=mock.url) as client:
        for n, prompt in enumerate(PROMPTS):
            answer = client.post(f"/{TEXT}", json={"prompt": prompt, "seed": n, "aspect_ratio": "4:3"}).json()
            clock.advance(6)
            if n < 3:  # finished and fetched: their images show
                client.get(answer["status_url"])
                client.get(answer["response_url"])
        client.post("/fal-ai/flux-pro/kontext/max", json={"prompt": "no image given"})  # a 422
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 560})
            page.goto(mock.ui_url)
            page.wait_for_function("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
            page.screenshot(path=str(HERE / "dashboard.png"))
            browser.close()


if __name__ == "__main__":
    main()
