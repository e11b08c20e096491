"""Time to render one 1024x1024 image, per output format (median of N runs).

    python benchmarks/bench_render.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

from mockserver.renderer import RenderSpec, render

SPEC = RenderSpec(
    endpoint="fal-ai/flux-pro/kontext/max/text-to-image",
    prompt="A lighthouse on a cliff at dusk, watercolour, with gulls and a long wake behind a fishing boat",
    seed=42, index=0, count=1, width=1024, height=1024, image_format="jpeg",
)


def median_ms(image_format: str, runs: int) -> float:
    times = []
    for seed in range(runs + 2):
        spec = RenderSpec(**{**SPEC.__dict__, "image_format": image_format, "seed": seed})
        start = time.perf_counter()
        render(spec)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[2:])  # the first runs load fonts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    for fmt in ("jpeg", "png"):
        print(f"render 1024x1024 {fmt}: {median_ms(fmt, args.runs):.1f} ms median of {args.runs}")


if __name__ == "__main__":
    main()
