"""Pixel checks shared by tests that look for an input image inside an output image."""

from __future__ import annotations

import io

from PIL import Image, ImageChops

MAGENTA = (255, 0, 255)


def magenta_pixels(data: bytes) -> int:
    """How many pixels of an encoded image are (close to) pure magenta."""
    r, g, b = Image.open(io.BytesIO(data)).convert("RGB").split()
    high_r, low_g, high_b = (band.point(test) for band, test in ((r, _high), (g, _low), (b, _high)))
    mask = ImageChops.multiply(ImageChops.multiply(high_r, low_g), high_b)
    return mask.histogram()[255]


def magenta_png(size: tuple[int, int] = (600, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, MAGENTA).save(out, format="PNG")
    return out.getvalue()


def _high(value: int) -> int:
    return 255 if value > 220 else 0


def _low(value: int) -> int:
    return 255 if value < 40 else 0
