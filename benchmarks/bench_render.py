"""Time mockserver.sim.renderer.render() against a same-run Pillow baseline.

Run from anywhere: python benchmarks/bench_render.py [--reps N]

Absolute milliseconds depend on the machine and on its load, so each case is
also shown as a multiple of the baseline: encoding a blank 1024x1024 RGB image
as JPEG, measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # works from a fresh checkout

from PIL import Image

from mockserver.sim.renderer import InputImage, RenderSpec, render

PROMPT = "Put a donut next to the flour, in a cozy bakery with warm morning light"


def measure(fn: Callable[[], object], reps: int, warmup: int = 5) -> list[float]:
    """Wall-clock milliseconds of ``reps`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def median_ms(image_format: str, reps: int) -> float:
    """Median milliseconds to render a 1024x1024 image in ``image_format`` (no inputs)."""
    spec = RenderSpec("fal-ai/flux-pro/kontext/max/text-to-image", PROMPT, 42, 0, 1, 1024, 1024, image_format)
    return statistics.median(measure(lambda: render(spec), reps))


def p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=50, help="timed repetitions per case (default 50)")
    reps = parser.parse_args().reps

    blank = Image.new("RGB", (1024, 1024))

    def baseline() -> bytes:
        buf = io.BytesIO()
        blank.save(buf, "JPEG", quality=88)
        return buf.getvalue()

    def spec(fmt: str, inputs: tuple[InputImage, ...] = ()) -> RenderSpec:
        return RenderSpec("fal-ai/flux-pro/kontext/max", PROMPT, 42, 0, 1, 1024, 1024, fmt, inputs)

    two_inputs = (
        InputImage("image_url", Image.new("RGB", (1024, 768), (200, 40, 160))),
        InputImage("image_urls[1]", Image.new("RGBA", (512, 512), (30, 90, 220, 128))),
    )
    cases: list[tuple[str, Callable[[], object]]] = [
        ("baseline: blank 1024x1024 JPEG encode", baseline),
        ("render 1024x1024 jpeg", lambda: render(spec("jpeg"))),
        ("render 1024x1024 png", lambda: render(spec("png"))),
        ("render 1024x1024 jpeg, 2 inputs", lambda: render(spec("jpeg", two_inputs))),
        ("render 1024x1024 png, 2 inputs", lambda: render(spec("png", two_inputs))),
    ]

    results = [(name, measure(fn, reps)) for name, fn in cases]
    base = statistics.median(results[0][1])
    print(f"{reps} reps each after warm-up; x = median / baseline median")
    print(f"{'case':40s} {'median ms':>10s} {'p90 ms':>8s} {'x':>6s}")
    for name, times in results:
        median = statistics.median(times)
        print(f"{name:40s} {median:10.2f} {p90(times):8.2f} {median / base:6.1f}")


if __name__ == "__main__":
    main()
