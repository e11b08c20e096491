"""Small image helpers shared by the OpenAI API tests."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageChops

MAGENTA = (255, 0, 255)
CYAN = (0, 255, 255)


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def png_data_uri(size: tuple[int, int], colour: tuple[int, int, int]) -> str:
    return "data:image/png;base64," + base64.b64encode(png(size, colour)).decode("ascii")


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def count_colour(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 24) -> int:
    """Pixels within ``tolerance`` of ``colour`` on every channel."""
    bands = [
        band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0)
        for band, c in zip(image.convert("RGB").split(), colour, strict=True)
    ]
    mask = ImageChops.darker(ImageChops.darker(bands[0], bands[1]), bands[2])
    return mask.histogram()[255]
