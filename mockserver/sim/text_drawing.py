"""Text in any script for the placeholder pictures, each character drawn with the first font
that has a glyph for it:

1. Pillow's bundled Aileron (``ImageFont.load_default``): ASCII and a few signs;
2. Noto Sans CJK SC (SIL Open Font License 1.1), from the ``noto-cjk-sans-otc`` package:
   CJK ideographs, kana, Hangul, and most Latin, Greek and Cyrillic letters Aileron lacks;
3. neither (emoji, many symbols, other scripts): an outlined box in the placeholder colour,
   one per character, so that it shows as a character the mock cannot draw, not as a gap.

Without that package the second step is skipped, with a warning in the log, and what Aileron
lacks becomes those boxes. Lines wrap at spaces and between CJK characters (which have no
spaces), measured in pixels with the same fonts."""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["Font", "Typeface", "draw_text", "text_length", "typeface", "wrap"]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

_log = logging.getLogger(__name__)

_CJK_PACKAGE = "noto_cjk_sans_otc"
_CJK_FILE = "NotoSansCJK-Regular.ttc"
# The collection's faces: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK. Each has all kana and Hangul; they
# differ in how some ideographs are drawn, and most prompts to these gateways are Chinese.
_CJK_INDEX = 2
_PRIMARY, _FALLBACK, _NONE = 0, 1, 2
_PROBE_SIZE = 24  # glyph coverage does not depend on size: it is checked once, at this one
_ABSENT = "\uffff"  # a noncharacter, in no font's cmap: it draws as the font's .notdef

# Characters a line may break between even without a space: CJK ideographs, kana, Hangul,
# fullwidth forms, CJK punctuation, and emoji (drawn as boxes).
_WIDE = (
    "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff01-\uff60\uffe0-\uffe6"
    "\U0001f000-\U0001faff\U00020000-\U0003fffd"
)
# No line starts with a closing mark or a small kana, nor ends with an opening mark.
_CLOSING = "、。，．・：；？！ー…‥）］｝〉》」』】〕〗〙〛ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々,.:;!?)\\]}%"
_OPENING = "（［｛〈《「『【〔〖〘〚"
# A token is what wrapping never splits unless it is wider than a whole line: one wide
# character, or a run of other non-space characters (cut after a hyphen, as textwrap does).
_TOKEN = re.compile(f"[{_OPENING}]*(?:[{_WIDE}]|[^ {_WIDE}-]+-+|[^ {_WIDE}]+)[{_CLOSING}]*")


@dataclass(frozen=True)
class Typeface:
    """The fonts for text of one pixel size; the fallback is loaded when first needed."""

    size: int
    primary: Font


@functools.lru_cache(maxsize=32)
def typeface(size: int) -> Typeface:
    return Typeface(size, ImageFont.load_default(size=size))


@functools.lru_cache(maxsize=1)
def _cjk_path() -> str | None:
    try:
        path = importlib.resources.files(_CJK_PACKAGE) / _CJK_FILE
    except ModuleNotFoundError:
        path = None
    # FreeType reads a file on disk as it needs it; a font inside a zip would have to be
    # read whole into memory, 19 MB per size.
    if not isinstance(path, Path) or not path.is_file():
        _log.warning("%s is not installed: CJK text is drawn as boxes", _CJK_PACKAGE.replace("_", "-"))
        return None
    return str(path)


@functools.lru_cache(maxsize=16)  # a few MB each, and a picture uses two sizes
def _fallback(size: int) -> ImageFont.FreeTypeFont | None:
    path = _cjk_path()
    if path is None:
        return None
    try:
        # BASIC, as load_default's: no dependency on whether libraqm is found, so the same
        # pixels everywhere.
        return ImageFont.truetype(path, size, index=_CJK_INDEX, layout_engine=ImageFont.Layout.BASIC)
    except (OSError, ImportError) as exc:  # a broken file, or Pillow without FreeType
        _log.warning("cannot load %s: %s; CJK text is drawn as boxes", path, exc)
        return None


def _looks(font: ImageFont.FreeTypeFont, ch: str) -> tuple[float, bytes]:
    side = 3 * _PROBE_SIZE
    img = Image.new("L", (side, side))
    ImageDraw.Draw(img).text((_PROBE_SIZE, _PROBE_SIZE), ch, font=font, fill=255)
    return font.getlength(ch), img.tobytes()


@functools.lru_cache(maxsize=4)
def _notdef(font: ImageFont.FreeTypeFont) -> tuple[float, bytes]:
    return _looks(font, _ABSENT)


def _has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    # Pillow does not say whether a font maps a character; a missing one draws as .notdef.
    return _looks(font, ch) != _notdef(font)


@functools.lru_cache(maxsize=1 << 15)
def _source(ch: str) -> int:
    """Which font draws ``ch``: _PRIMARY, _FALLBACK, or _NONE for a placeholder box."""
    primary = typeface(_PROBE_SIZE).primary
    if not isinstance(primary, ImageFont.FreeTypeFont) or _has_glyph(primary, ch):
        return _PRIMARY  # a Pillow without FreeType has only its bitmap font
    fallback = _fallback(_PROBE_SIZE)
    return _FALLBACK if fallback is not None and _has_glyph(fallback, ch) else _NONE


@functools.lru_cache(maxsize=1)
def _ascii_is_primary() -> bool:
    return all(_source(chr(c)) == _PRIMARY for c in range(0x20, 0x7F))


def _runs(text: str, face: Typeface) -> list[tuple[Font | None, str]]:
    """``text`` cut into runs drawn with one font each; None for placeholder boxes."""
    if text.isascii() and _ascii_is_primary():  # the usual case, without a look per character
        return [(face.primary, text)]
    fonts: dict[int, Font | None] = {_PRIMARY: face.primary, _NONE: None}
    runs = []
    for source, chars in itertools.groupby(text, _source):
        if source not in fonts:
            fonts[source] = _fallback(face.size)
        runs.append((fonts[source], "".join(chars)))
    return runs


def _box_advance(size: int) -> int:
    return max(3, round(size * 0.8))  # near an emoji's width


def text_length(text: str, face: Typeface) -> float:
    """Width in pixels of ``text`` as draw_text draws it."""
    return sum(
        font.getlength(run) if font is not None else len(run) * _box_advance(face.size)
        for font, run in _runs(text, face)
    )


def draw_text(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, face: Typeface, fill: RGB, box: RGB
) -> None:
    """``text`` with its top left at ``xy``, placeholder boxes outlined in ``box``."""
    runs = _runs(text, face)
    if len(runs) == 1 and runs[0][0] is face.primary:
        draw.text(xy, text, font=face.primary, fill=fill)  # one call, as before fallbacks
        return
    x, y = xy
    primary = face.primary
    # Runs share the primary font's baseline: fonts differ in ascent.
    baseline = y + (primary.getmetrics()[0] if isinstance(primary, ImageFont.FreeTypeFont) else face.size)
    advance = _box_advance(face.size)
    pad, bottom = max(1, face.size // 10), round(baseline)
    top, width = bottom - round(face.size * 0.7), max(1, face.size // 16)
    for font, run in runs:
        if font is not None:
            draw.text((x, baseline), run, font=font, fill=fill, anchor="ls")
            x += font.getlength(run)
            continue
        for _ in run:
            left = round(x) + pad
            draw.rectangle((left, top, left + advance - 2 * pad, bottom), outline=box, width=width)
            x += advance


@functools.lru_cache(maxsize=1 << 16)
def _advance(size: int, ch: str) -> float:
    return text_length(ch, typeface(size))


def wrap(text: str, face: Typeface, max_w: float, max_lines: int) -> tuple[list[str], bool]:
    """At most ``max_lines`` lines of ``text``, each at most ``max_w`` pixels wide, broken at
    spaces and between CJK characters; and whether some of ``text`` was left out."""
    # Only what could fit is looked at: a 20,000-character prompt costs no more than a short one.
    limit = int((max_lines + 1) * max(0.0, max_w) / max(1.0, face.primary.getlength("i"))) + 1
    capped = len(text) > limit
    adv = functools.partial(_advance, face.size)  # a word's width is its characters' (no kerning)
    space = adv(" ")
    lines: list[str] = []
    line, line_w, end = "", 0.0, 0
    for match in _TOKEN.finditer(text[:limit]):
        token, spaced = match.group(), match.start() > end
        end = match.end()
        token_w = sum(map(adv, token))
        gap = space if spaced else 0.0
        if line and line_w + gap + token_w <= max_w:
            line, line_w = line + " " * spaced + token, line_w + gap + token_w
            continue
        if line:
            lines.append(line)
        line, line_w = token, token_w
        while line_w > max_w and len(line) > 1:  # wider than a line on its own: cut inside it
            n, cut_w = _fitting(line, adv, max_w)
            lines.append(line[:n])
            line, line_w = line[n:], line_w - cut_w
        if len(lines) >= max_lines:
            return lines[:max_lines], True
    if line:
        lines.append(line)
    return lines[:max_lines], capped or len(lines) > max_lines


def _fitting(text: str, adv: Callable[[str], float], max_w: float) -> tuple[int, float]:
    """How many leading characters of ``text`` fit in ``max_w`` (at least one), and their width."""
    width = 0.0
    for n, ch in enumerate(text):
        ch_w = adv(ch)
        if n and width + ch_w > max_w:
            return n, width
        width += ch_w
    return len(text), width
