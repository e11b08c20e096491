"""Placeholder pictures for the mock FLUX.1 Kontext endpoints: cheap, byte-identical for
identical requests, and showing what made them (endpoint, prompt, seed, place in the batch,
size, format) with thumbnails of an edit request's input images. Text in any script is drawn
by sim/text_drawing.py, each character with the first font that has it; one no font has (an
emoji, say) is an outlined box in the accent colour."""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random
import re
import unicodedata
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from mockserver.sim.text_drawing import Typeface, draw_text, text_length, typeface, wrap

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


_RGB = tuple[int, int, int]
_Box = tuple[int, int, int, int]

_FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
_MAX_TILES = 8  # with more inputs the last tile says "+N more"
_WHITE: _RGB = (255, 255, 255)
_ACCENT: _RGB = (255, 226, 120)
_ELLIPSIS = "\u2026"
# Scaling to 35% equals a 65%-opaque black panel, and a LUT does it in C.
_DARKEN = [v * 7 // 20 for v in range(256)] * 3
# C0/C1 controls, lone surrogates (unencodable), zero-width and bidi controls
# (they would scramble the panel), BOM and tag characters.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)
# Variation selectors only choose a glyph's style (emoji or text): alone, they would be boxes.
_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def render(spec: RenderSpec) -> bytes:
    """Encoded image file for ``spec`` in its requested format."""
    return _encode(render_image(spec), _format_name(spec.image_format))


def render_blocked(width: int, height: int, image_format: str) -> bytes:
    """What fal returns for an image its safety checker flagged: all black, at the size and in the format asked."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    return _encode(Image.new("RGB", (width, height)), _format_name(image_format))


def render_image(spec: RenderSpec) -> Image.Image:
    """The RGB picture for ``spec``, before encoding."""
    fmt = _format_name(spec.image_format)
    w, h = spec.width, spec.height
    if w < 1 or h < 1:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    img = _background(w, h, random.Random(int.from_bytes(_digest(spec), "big")))

    fs = max(6, min(40, round(min(w / 36, h / 14))))
    face = typeface(fs)
    margin, line_h = max(2, fs // 2), round(fs * 1.3)
    budget = (h // 2 if spec.inputs else h) - 2 * margin  # inputs get the rest
    lines = _text_lines(spec, fmt, face, w - 4 * margin, max(1, min(8, budget // line_h - 3)))
    text_w = max(text_length(line, face) for line in lines)
    panel = (margin, margin, min(w - margin, round(3 * margin + text_w)), min(h, 3 * margin + len(lines) * line_h))
    _darken(img, panel)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw_text(draw, (2 * margin, 2 * margin + i * line_h), line, face, _ACCENT if i == 0 else _WHITE, _ACCENT)
    if spec.inputs:
        # On small pictures tiles win over text: they keep a third of the height.
        top = max(0, min(panel[3] + margin, h - margin - max(h // 3, 1)))
        _draw_inputs(img, spec.inputs, (margin, top, w - margin, h - margin), fs)
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
        # Level 1: far faster than the default, and flat colour still packs well.
        img.save(buf, "PNG", compress_level=1, optimize=False)
    else:
        img.save(buf, "WEBP", quality=88, method=0)
    return buf.getvalue()


def _digest(spec: RenderSpec) -> bytes:
    # hashlib, not hash(): str hashes are salted per process.
    h = hashlib.sha256()
    for part in (
        spec.seed.to_bytes(spec.seed.bit_length() // 8 + 1, "big", signed=True),
        str(spec.index).encode(),
        spec.endpoint.encode("utf-8", "surrogatepass"),
        spec.prompt.encode("utf-8", "surrogatepass"),
    ):
        h.update(len(part).to_bytes(8, "big"))  # length prefixes keep parts apart
        h.update(part)
    return h.digest()


def _clean(text: str) -> str:
    """Printable single-line text: controls dropped, whitespace collapsed, composed (NFC) so
    that decomposed accents and Hangul (as macOS file names have them) draw as one glyph."""
    return " ".join(unicodedata.normalize("NFC", _SELECTORS.sub("", _UNPRINTABLE.sub(" ", text))).split())


def _fit(text: str, face: Typeface, max_w: float, keep_end: bool = False) -> str:
    """``text`` cut to ``max_w`` pixels with an ellipsis; ``keep_end`` cuts the start
    instead, for labels like "image_urls[12]" whose telling part is at the end."""
    if max_w <= 0:
        return ""
    limit = int(max_w / max(1.0, face.primary.getlength("i"))) + 2  # bounds the work
    capped = len(text) > limit
    text = text[-limit:] if keep_end else text[:limit]
    if not capped and text_length(text, face) <= max_w:
        return text

    def cut(n: int) -> str:
        return _ELLIPSIS + text[len(text) - n :] if keep_end else text[:n] + _ELLIPSIS

    lo, hi = 0, len(text) - 1
    while lo < hi:  # the most characters that fit along with the ellipsis
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if text_length(cut(mid), face) <= max_w else (lo, mid - 1)
    return cut(lo) if lo else ""


def _wrap(text: str, face: Typeface, max_w: float, max_lines: int) -> list[str]:
    lines, left_out = wrap(text, face, max_w, max_lines)
    if left_out and lines:
        lines[-1] += " " + _ELLIPSIS  # if _fit must cut, it ends in one too
    return [_fit(line, face, max_w) for line in lines]


def _seed_text(seed: int) -> str:
    if seed.bit_length() <= 128:
        return str(seed)
    # str() of a huge int is slow, and refused past sys.get_int_max_str_digits().
    return f"{'-' if seed < 0 else ''}0x{abs(seed):x}"[:24] + f"{_ELLIPSIS} ({seed.bit_length()} bits)"


def _text_lines(spec: RenderSpec, fmt: str, face: Typeface, max_w: float, prompt_lines: int) -> list[str]:
    head = [
        _clean(spec.endpoint) or "(no endpoint)",
        f"seed {_seed_text(spec.seed)}",
        f"image {spec.index + 1}/{spec.count}   {spec.width}x{spec.height} {fmt}",
    ]
    prompt = _clean(spec.prompt)
    body = _wrap("prompt: " + prompt, face, max_w, prompt_lines) if prompt else ["(empty prompt)"]
    return [_fit(line, face, max_w) for line in head] + body


def _hsv(hue: float, sat: float, val: float) -> _RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, sat, val)
    return (round(r * 255), round(g * 255), round(b * 255))


def _mix(a: _RGB, b: _RGB, t: float) -> _RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _background(w: int, h: int, rng: random.Random) -> Image.Image:
    """A two-colour gradient and a few flat blocks, all chosen by ``rng``."""
    hue = rng.random()
    c1 = _hsv(hue, rng.uniform(0.35, 0.8), rng.uniform(0.5, 0.95))
    c2 = _hsv(hue + rng.uniform(0.2, 0.5), rng.uniform(0.35, 0.8), rng.uniform(0.5, 0.95))
    # A 1-pixel line stretched with NEAREST costs well under a millisecond.
    ends = Image.new("RGB", (1, 2), c1)
    ends.putpixel((0, 1), c2)
    if rng.random() < 0.5:
        line = ends.resize((1, h), Image.Resampling.BILINEAR, box=(0, 0.5, 1, 1.5))
    else:
        ends = ends.transpose(Image.Transpose.TRANSPOSE)
        line = ends.resize((w, 1), Image.Resampling.BILINEAR, box=(0.5, 0, 1.5, 1))
    img = line.resize((w, h), Image.Resampling.NEAREST)
    # Axis-aligned blocks only: a row equal to the one above (or flat) lets the PNG
    # encoder skip its costly filters; circles made PNG encoding ~50% slower.
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


def _darken(img: Image.Image, box: _Box) -> None:
    if box[2] > box[0] and box[3] > box[1]:
        img.paste(img.crop(box).point(_DARKEN), box)


def _thumbnail(src: Image.Image, side: int) -> Image.Image:
    """``src`` scaled to fit a side x side square, as RGB."""
    if src.width < 1 or src.height < 1:
        raise ValueError("empty image")
    scale = min(side / src.width, side / src.height)
    size = (max(1, round(src.width * scale)), max(1, round(src.height * scale)))
    # Nearest-neighbour to twice the size (it reads only the pixels it keeps), then 2x2
    # averaging: ~1 ms for any input, where a filtered resize of 2048px takes ~6 ms.
    im = src.resize((2 * size[0], 2 * size[1]), Image.Resampling.NEAREST)
    if im.mode in ("P", "PA") or "transparency" in im.info:
        im = im.convert("RGBA")  # palette and tRNS must be expanded to average
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode.startswith("I;16"):
        im = im.convert("I").point(lambda v: v / 257).convert("L")  # full 16-bit range
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        # Flatten onto grey first: cheaper than averaging with alpha.
        rgba = im.convert("LA") if im.mode == "La" else im  # no direct La->RGBA
        rgba = rgba if rgba.mode == "RGBA" else rgba.convert("RGBA")
        im = Image.new("RGB", rgba.size, (150, 150, 150))
        im.paste(rgba, mask=rgba)
    elif im.mode in ("I", "F"):
        lo, hi = im.getextrema()  # 32-bit data has no set range: stretch its own
        assert isinstance(lo, (int, float)) and isinstance(hi, (int, float))
        k = 255.0 / (hi - lo) if hi > lo else 1.0
        im = im.point(lambda v: v * k + (-lo * k)).convert("L")
    im = im.reduce(2)
    return im if im.mode == "RGB" else im.convert("RGB")


def _draw_inputs(img: Image.Image, inputs: tuple[InputImage, ...], area: _Box, fs: int) -> None:
    """At most _MAX_TILES labelled tiles, in a grid at the bottom of ``area``."""
    shown: list[InputImage | None] = list(inputs[:_MAX_TILES])
    if len(inputs) > _MAX_TILES:
        shown[-1] = None  # becomes the "+N more" tile
    x0, y0, x1, y1 = area
    small = typeface(max(6, round(fs * 0.7)))
    label_h = round(small.size * 1.4) if isinstance(small.primary, ImageFont.FreeTypeFont) else 14
    gap = max(2, fs // 3)

    def tile_side(cols: int) -> int:
        rows = math.ceil(len(shown) / cols)
        return min((x1 - x0 - gap * (cols + 1)) // cols, (y1 - y0 - gap * (rows + 1)) // rows - label_h)

    # The biggest tiles; of near-equal layouts the widest, as labels need width.
    best = max(tile_side(c) for c in range(1, len(shown) + 1))
    cols = max(c for c in range(1, len(shown) + 1) if tile_side(c) >= best - abs(best) // 10)
    rows = math.ceil(len(shown) / cols)
    side = max(4, tile_side(cols))
    grid_h = rows * (side + label_h) + (rows + 1) * gap
    gx, gy = x0, max(y0, y1 - grid_h)
    _darken(img, (gx, gy, min(img.width, gx + cols * side + (cols + 1) * gap), min(img.height, gy + grid_h)))
    draw = ImageDraw.Draw(img)
    for n, item in enumerate(shown):
        tx = gx + gap + (n % cols) * (side + gap)
        ty = gy + gap + (n // cols) * (side + label_h + gap)
        box = (tx, ty, tx + side - 1, ty + side - 1)
        if item is None:
            draw.rectangle(box, fill=(35, 35, 35), outline=_WHITE)
            more = _fit(f"+{len(inputs) - len(shown) + 1} more", small, side - 4)
            draw.text((tx + side // 2, ty + side // 2), more, font=small.primary, fill=_WHITE, anchor="mm")
            continue
        note, thumb = item.note, None
        if item.image is not None:
            try:
                thumb = _thumbnail(item.image, side)
            except (OSError, ValueError) as exc:  # broken input: say so, don't fail
                note = f"cannot show input: {exc}"
        if thumb is not None:
            draw.rectangle(box, fill=(20, 20, 20))
            img.paste(thumb, (tx + (side - thumb.width) // 2, ty + (side - thumb.height) // 2))
        else:  # placeholder: crossed-out tile with the note written on it
            draw.rectangle(box, fill=(70, 70, 70), outline=(160, 160, 160))
            for line_box in (box, (box[0], box[3], box[2], box[1])):
                draw.line(line_box, fill=(110, 110, 110), width=max(1, side // 64))
            lines = _wrap(_clean(note) or "no image", small, side - 6, max(1, (side - 6) // label_h))
            for k, line in enumerate(lines):
                draw_text(draw, (tx + 3, ty + 3 + k * label_h), line, small, _WHITE, _ACCENT)
        label = _fit(_clean(item.label) or "?", small, side + gap, keep_end=True)
        draw_text(draw, (tx, ty + side + 1), label, small, _WHITE, _ACCENT)
