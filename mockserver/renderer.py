"""Placeholder images for the mock FLUX.1 Kontext endpoints.

Each picture is cheap to make, identical for identical requests, and shows
what produced it: endpoint, prompt, seed, position in the batch, size and
format, plus thumbnails of any input images for edit requests.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
import random
import re
import textwrap
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

__all__ = ["InputImage", "RenderSpec", "render", "render_image"]


@dataclass(frozen=True)
class InputImage:
    label: str  # where it came from in the request, e.g. "image_urls[1]"
    image: Image.Image | None  # decoded picture, or None when unusable
    note: str = ""  # shown when image is None


@dataclass(frozen=True)
class RenderSpec:
    endpoint: str
    prompt: str
    seed: int
    index: int  # 0-based position in the request
    count: int
    width: int
    height: int
    image_format: str  # "jpeg", "png" or "webp"
    inputs: tuple[InputImage, ...] = ()


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_RGB = tuple[int, int, int]

_FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
_MAX_TILES = 8  # beyond this the last tile becomes "+N more"
_WHITE: _RGB = (255, 255, 255)
_ACCENT: _RGB = (255, 226, 120)
# Darkening to 35% is the same as a 65%-opaque black panel, done as a LUT.
_DARKEN = [v * 7 // 20 for v in range(256)] * 3
# C0/C1 controls, lone surrogates (unencodable), zero-width and bidi
# controls (they would scramble the panel), BOM and language tags.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)


def render(spec: RenderSpec) -> bytes:
    """Encoded image file for ``spec`` in its requested format."""
    return _encode(render_image(spec), _format_name(spec.image_format))


def render_image(spec: RenderSpec) -> Image.Image:
    """The RGB picture for ``spec``, before encoding."""
    fmt = _format_name(spec.image_format)
    w, h = spec.width, spec.height
    if w < 1 or h < 1:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    rng = random.Random(int.from_bytes(_digest(spec), "big"))
    img = _background(w, h, rng)

    fs = max(6, min(40, round(min(w / 36, h / 14))))
    font = _font(fs)
    margin = max(2, fs // 2)
    line_h = round(fs * 1.3)
    # With inputs the text may take only about half the height.
    budget = (h // 2 if spec.inputs else h) - 2 * margin
    prompt_lines = max(1, min(8, budget // line_h - 3))
    lines = _text_lines(spec, fmt, font, w - 4 * margin, prompt_lines)
    panel_bottom = min(h, 2 * margin + len(lines) * line_h + margin)
    _darken(img, (margin, margin, w - margin, panel_bottom))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((2 * margin, 2 * margin + i * line_h), line, font=font,
                  fill=_ACCENT if i == 0 else _WHITE)

    if spec.inputs:
        # Tiles win over text on small images: keep at least a third of the height.
        top = min(panel_bottom + margin, h - margin - max(h // 3, 1))
        _draw_inputs(img, spec.inputs, (margin, max(0, top), w - margin, h - margin), fs)
    return img


def _format_name(image_format: str) -> str:
    try:
        return _FORMATS[image_format.lower()]
    except KeyError:
        raise ValueError(f"unsupported image format: {image_format!r}") from None


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=88, optimize=False)
    elif fmt == "PNG":
        # Level 1 is several times faster than the default and still small
        # here, because the pictures are mostly flat colour.
        img.save(buf, "PNG", compress_level=1, optimize=False)
    else:
        img.save(buf, "WEBP", quality=88, method=0)
    return buf.getvalue()


def _digest(spec: RenderSpec) -> bytes:
    # hashlib, not hash(): str hashes are salted per process.
    seed_bytes = spec.seed.to_bytes(spec.seed.bit_length() // 8 + 1, "big", signed=True)
    h = hashlib.sha256()
    for part in (
        seed_bytes,
        str(spec.index).encode(),
        spec.endpoint.encode("utf-8", "surrogatepass"),
        spec.prompt.encode("utf-8", "surrogatepass"),
    ):
        h.update(len(part).to_bytes(8, "big"))  # length prefix: no ambiguity
        h.update(part)
    return h.digest()


@functools.lru_cache(maxsize=32)
def _font(size: int) -> _Font:
    return ImageFont.load_default(size=size)


def _clean(text: str) -> str:
    """Printable, single-line text: controls dropped, whitespace collapsed."""
    return " ".join(_UNPRINTABLE.sub(" ", text).split())


def _fit(text: str, font: _Font, max_w: float, keep_end: bool = False) -> str:
    """``text`` shortened with an ellipsis so that it is at most ``max_w`` wide.

    ``keep_end`` drops the start instead, for labels like "image_urls[12]"
    whose distinguishing part is at the end.
    """
    if max_w <= 0:
        return ""
    limit = int(max_w / max(1.0, font.getlength("i"))) + 2  # bounds the work
    text = text[-limit:] if keep_end else text[:limit]
    if font.getlength(text) <= max_w:
        return text

    def cut(n: int) -> str:
        return "\u2026" + text[len(text) - n :] if keep_end else text[:n] + "\u2026"

    lo, hi = 0, len(text) - 1
    while lo < hi:  # the most characters that fit together with the ellipsis
        mid = (lo + hi + 1) // 2
        if font.getlength(cut(mid)) <= max_w:
            lo = mid
        else:
            hi = mid - 1
    return cut(lo) if lo else ""


def _wrap(text: str, font: _Font, max_w: float, max_lines: int) -> list[str]:
    avg = font.getlength("the quick brown fox jumps over a lazy dog") / 41
    per_line = max(4, int(max_w / max(avg, 1.0)))
    # Cut to a little more than max_lines can hold: a 20,000-char prompt then
    # costs nothing extra, and the overflow is still detected.
    lines = textwrap.wrap(text[: (per_line + 1) * (max_lines + 1)], per_line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += " \u2026"  # _fit keeps an ellipsis at the end if it must cut
    return [_fit(line, font, max_w) for line in lines]


def _seed_text(seed: int) -> str:
    # str() of a huge int is slow and capped by sys.int_max_str_digits.
    if seed.bit_length() <= 128:
        return str(seed)
    return f"{'-' if seed < 0 else ''}0x{abs(seed):x}"[:24] + f"\u2026 ({seed.bit_length()} bits)"


def _text_lines(spec: RenderSpec, fmt: str, font: _Font, max_w: float, prompt_lines: int) -> list[str]:
    head = [
        _clean(spec.endpoint) or "(no endpoint)",
        f"seed {_seed_text(spec.seed)}",
        f"image {spec.index + 1}/{spec.count}   {spec.width}x{spec.height} {fmt}",
    ]
    prompt = _clean(spec.prompt)
    body = _wrap("prompt: " + prompt, font, max_w, prompt_lines) if prompt else ["(empty prompt)"]
    return [_fit(line, font, max_w) for line in head] + body


def _hsv(hue: float, sat: float, val: float) -> _RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, sat, val)
    return (round(r * 255), round(g * 255), round(b * 255))


def _mix(a: _RGB, b: _RGB, t: float) -> _RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _background(w: int, h: int, rng: random.Random) -> Image.Image:
    """Two-colour gradient plus a few flat shapes, all chosen by ``rng``."""
    hue = rng.random()
    c1 = _hsv(hue, rng.uniform(0.35, 0.8), rng.uniform(0.5, 0.95))
    c2 = _hsv(hue + rng.uniform(0.2, 0.5), rng.uniform(0.35, 0.8), rng.uniform(0.5, 0.95))
    # A 1-D gradient stretched with NEAREST: a fraction of a millisecond, and
    # identical rows/columns keep PNG encoding fast.
    ends = Image.new("RGB", (1, 2), c1)
    ends.putpixel((0, 1), c2)
    if rng.random() < 0.5:
        line = ends.resize((1, h), Image.Resampling.BILINEAR, box=(0, 0.5, 1, 1.5))
    else:
        ends = ends.transpose(Image.Transpose.TRANSPOSE)
        line = ends.resize((w, 1), Image.Resampling.BILINEAR, box=(0.5, 0, 1.5, 1))
    img = line.resize((w, h), Image.Resampling.NEAREST)

    # Axis-aligned blocks only: rows that repeat the row above let the PNG
    # encoder skip its costly filters (circles made PNG ~50% slower).
    draw = ImageDraw.Draw(img)
    kind = rng.randrange(3)  # 0 blocks, 1 vertical bands, 2 horizontal bands
    for _ in range(rng.randint(3, 6)):
        tint = _WHITE if rng.random() < 0.5 else (0, 0, 0)
        colour = _mix(rng.choice((c1, c2)), tint, rng.uniform(0.15, 0.4))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        bw, bh = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
        if kind == 1:
            y, bh = 0, h
        elif kind == 2:
            x, bw = 0, w
        draw.rectangle((x, y, x + bw, y + bh), fill=colour)
    return img


def _darken(img: Image.Image, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    if x1 > x0 and y1 > y0:
        img.paste(img.crop(box).point(_DARKEN), box)


def _thumbnail(src: Image.Image, side: int) -> Image.Image:
    """``src`` scaled to fit a side x side square, as RGB."""
    im = src
    if im.width < 1 or im.height < 1:
        raise ValueError("empty image")
    scale = min(side / im.width, side / im.height)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    # Nearest-neighbour to twice the target (it reads only the pixels it
    # keeps), then 2x2 box averaging: ~1 ms for any input size, where a
    # filtered resize of a 2048px input costs ~6 ms.
    im = im.resize((2 * size[0], 2 * size[1]), Image.Resampling.NEAREST)
    if im.mode in ("P", "PA") or "transparency" in im.info:
        im = im.convert("RGBA")  # palette/tRNS must be expanded before averaging
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode.startswith("I;16"):
        im = im.convert("I")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        # Flatten onto grey before averaging: cheaper than reducing with alpha.
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        im = Image.new("RGB", rgba.size, (150, 150, 150))
        im.paste(rgba, mask=rgba)
    elif im.mode in ("I", "F"):
        im = _stretch(im)
    im = im.reduce(2)
    return im if im.mode == "RGB" else im.convert("RGB")


def _stretch(im: Image.Image) -> Image.Image:
    """Map a 32-bit int/float image's own value range onto 0..255."""
    lo, hi = im.getextrema()
    assert isinstance(lo, (int, float)) and isinstance(hi, (int, float))
    scale = 255.0 / (hi - lo) if hi > lo else 1.0
    return im.point(lambda v: v * scale + (-lo * scale)).convert("L")


def _draw_inputs(img: Image.Image, inputs: tuple[InputImage, ...], area: tuple[int, int, int, int], fs: int) -> None:
    """A grid of at most _MAX_TILES labelled tiles inside ``area``."""
    if len(inputs) > _MAX_TILES:
        shown: list[InputImage | None] = [*inputs[: _MAX_TILES - 1], None]  # None = "+N more"
    else:
        shown = list(inputs)
    x0, y0, x1, y1 = area
    small = _font(max(6, round(fs * 0.7)))
    label_h = round(small.size * 1.4) if isinstance(small, ImageFont.FreeTypeFont) else 14
    gap = max(2, fs // 3)

    def tile_side(cols: int) -> int:
        rows = math.ceil(len(shown) / cols)
        cell_w = (x1 - x0 - gap * (cols + 1)) // cols
        return min(cell_w, (y1 - y0 - gap * (rows + 1)) // rows - label_h)

    # Biggest square tiles; among near-equal layouts the widest, which gives
    # labels more room.
    best = max(tile_side(c) for c in range(1, len(shown) + 1))
    cols = max(c for c in range(1, len(shown) + 1) if tile_side(c) >= best - abs(best) // 10)
    rows = math.ceil(len(shown) / cols)
    side = max(4, tile_side(cols))
    grid_w = cols * side + (cols + 1) * gap
    grid_h = rows * (side + label_h) + (rows + 1) * gap
    gx, gy = x0, max(y0, y1 - grid_h)  # sit at the bottom of the area
    _darken(img, (gx, gy, min(img.width, gx + grid_w), min(img.height, gy + grid_h)))
    draw = ImageDraw.Draw(img)
    for n, item in enumerate(shown):
        tx = gx + gap + (n % cols) * (side + gap)
        ty = gy + gap + (n // cols) * (side + label_h + gap)
        box = (tx, ty, tx + side - 1, ty + side - 1)
        if item is None:
            draw.rectangle(box, fill=(35, 35, 35), outline=_WHITE)
            text = _fit(f"+{len(inputs) - len(shown) + 1} more", small, side - 4)
            draw.text((tx + side // 2, ty + side // 2), text, font=small, fill=_WHITE, anchor="mm")
            continue
        note = item.note
        thumb = None
        if item.image is not None:
            try:
                thumb = _thumbnail(item.image, side)
            except (OSError, ValueError) as exc:  # undecodable input: show why, don't fail
                note = f"cannot show input: {exc}"
        if thumb is not None:
            draw.rectangle(box, fill=(20, 20, 20))
            img.paste(thumb, (tx + (side - thumb.width) // 2, ty + (side - thumb.height) // 2))
        else:
            draw.rectangle(box, fill=(70, 70, 70), outline=(160, 160, 160))
            draw.line(box, fill=(110, 110, 110), width=max(1, side // 64))
            draw.line((box[0], box[3], box[2], box[1]), fill=(110, 110, 110), width=max(1, side // 64))
            text_lines = _wrap(_clean(note) or "no image", small, side - 6, max(1, (side - 6) // label_h))
            for k, line in enumerate(text_lines):
                draw.text((tx + 3, ty + 3 + k * label_h), line, font=small, fill=_WHITE)
        label = _fit(_clean(item.label) or "?", small, side + gap, keep_end=True)
        draw.text((tx, ty + side + 1), label, font=small, fill=_WHITE)
