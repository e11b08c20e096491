"""Throughput of the OpenAI-compatible images API against fal's run host, measured in the same run.

    python benchmarks/openai_images.py [requests]

Both answer synchronously and render the same pictures, so the ratio shows
what the OpenAI layer (model lookup, two validations, JSON answer) costs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import httpx

from mockserver.testing import MockServer

PROMPT = "A lighthouse at dusk"


def _rate(count: int, call: Callable[[int], httpx.Response]) -> float:
    call(-1)  # warm up: fonts, validators
    start = time.perf_counter()
    for i in range(count):
        response = call(i)
        assert response.status_code == 200, response.text
    return count / (time.perf_counter() - start)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with MockServer(time_scale=0) as mock, httpx.Client(base_url=mock.url, timeout=60) as client:
        fal = _rate(count, lambda i: client.post(
            "/run/fal-ai/flux-pro/kontext/max/text-to-image",
            json={"prompt": PROMPT, "seed": i, "output_format": "png", "aspect_ratio": "1:1"},
        ))
        openai_url = _rate(count, lambda i: client.post(
            "/v1/images/generations",
            json={"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": PROMPT, "seed": i},
        ))
        openai_b64 = _rate(count, lambda i: client.post(
            "/v1/images/generations",
            json={"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": PROMPT, "seed": i,
                  "response_format": "b64_json"},
        ))
    print(f"fal run host       {fal:7.1f} req/s  (baseline)")
    print(f"openai url         {openai_url:7.1f} req/s  ratio {openai_url / fal:.2f}")
    print(f"openai b64_json    {openai_b64:7.1f} req/s  ratio {openai_b64 / fal:.2f}")


if __name__ == "__main__":
    main()
