"""What many tests share: the endpoints they call, the images they send, and the checks on
the images they get back."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from mockserver.spec.loader import default_spec_paths

TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "fal-ai/flux-pro/kontext/max"
MULTI = "fal-ai/flux-pro/kontext/max/multi"

MAGENTA = (255, 0, 255)
CYAN = (0, 255, 255)


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = MAGENTA, fmt: str = "PNG") -> bytes:
    """An encoded image of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def data_uri(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = MAGENTA, fmt: str = "PNG") -> str:
    media = "jpeg" if fmt == "JPEG" else fmt.lower()
    return f"data:image/{media};base64," + base64.b64encode(png(size, colour, fmt)).decode("ascii")


def decode(data: bytes) -> Image.Image:
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


def share_of_colour(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    """Fraction of the picture within ``tolerance`` of ``colour`` (measured at 128x128)."""
    return count_colour(image.convert("RGB").resize((128, 128)), colour, tolerance) / (128 * 128)


def magenta_pixels(data: bytes) -> int:
    """How many pixels of an encoded image are (close to) pure magenta."""
    return count_colour(decode(data), MAGENTA, tolerance=35)


def specs_with(tmp_path: Path, old: str, new: str, document: str = "fal-kontext.yaml") -> list[Path]:
    """The shipped spec documents copied to ``tmp_path`` (relative refs still resolve), with one edit."""
    copies = []
    for path in default_spec_paths():
        copy = tmp_path / path.name
        shutil.copyfile(path, copy)
        copies.append(copy)
    target = tmp_path / document
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {document} exactly once"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return copies


def write_script(project: Path, name: str, script: str) -> Path:
    """Put ``script`` in the npm project, which every test worker shares: written whole, then
    renamed, so another worker never runs it half written."""
    partial = project / f".{name}.{os.getpid()}"
    partial.write_text(script)
    return partial.replace(project / name)


def run_node(project: Path, name: str, script: str, *args: str, timeout: float = 60) -> dict[str, Any]:
    """Run ``script`` as ``name`` in the session's npm project; the JSON its last line prints."""
    node = shutil.which("node")
    assert node is not None
    write_script(project, name, script)
    done = subprocess.run([node, name, *args], cwd=project, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
