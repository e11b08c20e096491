"""Small builders shared by the tests."""

from __future__ import annotations

import base64
import io

from PIL import Image

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "fal-ai/flux-pro/kontext/max"
MULTI = "fal-ai/flux-pro/kontext/max/multi"


def data_uri(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (255, 0, 255), fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    media = "jpeg" if fmt == "JPEG" else fmt.lower()
    return f"data:image/{media};base64," + base64.b64encode(buffer.getvalue()).decode()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def share_of_color(image: Image.Image, color: tuple[int, int, int], tolerance: int = 40) -> float:
    """Fraction of pixels within ``tolerance`` of ``color`` on every channel."""
    raw = image.convert("RGB").resize((128, 128)).tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    close = sum(all(abs(p[i] - color[i]) <= tolerance for i in range(3)) for p in pixels)
    return close / len(pixels)
