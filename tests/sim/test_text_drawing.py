from __future__ import annotations

import logging
import random
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from mockserver.sim import renderer, text_drawing
from mockserver.sim.renderer import RenderSpec, render, render_image
from mockserver.sim.text_drawing import draw_text, text_length, typeface, wrap

BASE = RenderSpec("fal-ai/flux-pro/kontext/max", "Put a donut next to the flour", 42, 0, 1, 512, 512, "png")
ACCENT = (255, 226, 120)
GREY = (90, 90, 90)
PROMPTS = {
    "zh": ("把甜甜圈放在面粉旁边", "在温暖的晨光中的面包"),
    "ja": ("ドーナツを小麦粉の隣に", "あたたかい朝の光の中で"),
    "ko": ("밀가루 옆에 도넛을 놓으세요", "따뜻한 아침 햇살을 비추세요"),
}
LONG_CHINESE = "这是一段没有空格的很长的中文提示词，用来检查换行是否会在汉字之间断开，而不是把整行截断。" * 3


@pytest.fixture
def flat(monkeypatch: pytest.MonkeyPatch) -> None:
    """One grey background for every request, so that two pictures differ only in their text."""
    monkeypatch.setattr(renderer, "_background", lambda w, h, rng: Image.new("RGB", (w, h), GREY))


@pytest.fixture
def fresh_fonts() -> Iterator[None]:
    caches = [text_drawing._cjk_path, text_drawing._fallback, text_drawing._source, text_drawing._advance]
    caches.append(text_drawing._ascii_is_primary)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def accent_pixels(img: Image.Image) -> int:
    bands = zip(img.split(), ACCENT, strict=True)
    near = [band.point(lambda v, c=c: 255 if abs(v - c) <= 12 else 0) for band, c in bands]
    return ImageChops.multiply(ImageChops.multiply(near[0], near[1]), near[2]).histogram()[255]


@pytest.mark.parametrize("script", sorted(PROMPTS))
def test_cjk_prompts_are_drawn_not_as_boxes(flat: None, script: str) -> None:
    one, other = PROMPTS[script]
    assert [c == " " for c in one] == [c == " " for c in other]
    drawn = render_image(replace(BASE, prompt=one))
    # Drawn as boxes, two prompts of as many characters would give the same picture...
    assert ImageChops.difference(drawn, render_image(replace(BASE, prompt=other))).getbbox() is not None
    # ... and the same as noncharacters, which no font has.
    boxes = render_image(replace(BASE, prompt="".join(" " if c == " " else "\uffff" for c in one)))
    assert ImageChops.difference(drawn, boxes).getbbox() is not None


def test_emoji_shows_a_placeholder_in_the_accent_colour(flat: None) -> None:
    with_emoji = render_image(replace(BASE, prompt="a donut 🍩"))
    without = render_image(replace(BASE, prompt="a donut"))
    # The first line (the endpoint) is in the accent colour too: the box adds to it.
    assert accent_pixels(with_emoji) - accent_pixels(without) > 10


def test_decomposed_text_is_drawn_as_composed(flat: None) -> None:
    composed = "한국어 café"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    pictures = [render_image(replace(BASE, prompt=p)) for p in (composed, decomposed)]
    assert ImageChops.difference(*pictures).getbbox() is None


def test_variation_selectors_draw_nothing(flat: None) -> None:
    plain, styled = render_image(replace(BASE, prompt="love ❤")), render_image(replace(BASE, prompt="love ❤\ufe0f"))
    assert ImageChops.difference(plain, styled).getbbox() is None


def test_long_chinese_prompt_wraps_between_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, float]] = []
    real = ImageDraw.ImageDraw.text

    def spy(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kwargs: Any) -> None:
        seen.append((str(text), xy[1]))
        real(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    render(replace(BASE, prompt=LONG_CHINESE, width=1024, height=1024))
    joined = "".join(text for text, _ in seen)
    # Every character is drawn, none cut off with an ellipsis at a line's end.
    assert "prompt: " + LONG_CHINESE in joined
    assert "\u2026" not in joined
    assert len({y for text, y in seen if text[0] in LONG_CHINESE}) >= 3


def test_wrapped_cjk_lines_fit_and_keep_punctuation_off_line_starts() -> None:
    face = typeface(20)
    lines, left_out = wrap(LONG_CHINESE, face, 230, 40)
    assert not left_out and len(lines) > 5
    assert "".join(lines) == LONG_CHINESE  # no space to drop between CJK characters
    assert all(text_length(line, face) <= 230 for line in lines)
    assert not [line for line in lines if line[0] in "，。"]


def test_wrap_breaks_latin_at_spaces_and_long_words_anywhere() -> None:
    face = typeface(20)
    text = "a few words then " + "x" * 80 + " and 한국어 단어"
    lines, left_out = wrap(text, face, 150, 20)
    assert not left_out
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(text_length(line, face) <= 150 and line.strip() == line for line in lines)
    assert "a few words" in lines[0] and sum("x" in line for line in lines) >= 3
    assert wrap("word " * 100, face, 150, 2)[1]  # says when it left words out


def test_text_length_is_what_draw_text_draws() -> None:
    face = typeface(30)
    for text in ("plain ascii", "mixed 中文 and 한국어 with 🍩 and café", "ドーナツ"):
        img = Image.new("RGB", (1200, 60))
        draw_text(ImageDraw.Draw(img), (0, 5), text, face, (255, 255, 255), ACCENT)
        ink = img.getbbox()
        assert ink is not None
        # The last glyph ends within a pixel or two of the measured width.
        assert abs(ink[2] - text_length(text, face)) <= 3, text


def test_ascii_is_drawn_in_one_call_with_the_default_font(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(ImageDraw.ImageDraw, "text", lambda self, xy, text, **kw: calls.append(kw))
    face = typeface(16)
    draw_text(ImageDraw.Draw(Image.new("RGB", (300, 40))), (2, 2), "Put a donut next to the flour", face, GREY, ACCENT)
    assert len(calls) == 1 and calls[0]["font"] is face.primary and "anchor" not in calls[0]


@pytest.mark.parametrize("script", sorted(PROMPTS))
def test_cjk_prompts_give_identical_bytes(fresh_fonts: None, script: str) -> None:
    specs = [replace(BASE, prompt=" ".join(PROMPTS[script]), image_format=fmt) for fmt in ("png", "jpeg", "webp")]
    first = [render(spec) for spec in specs]
    assert [render(spec) for spec in specs] == first
    text_drawing._fallback.cache_clear()  # fonts loaded anew, as in another process
    text_drawing._source.cache_clear()
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(render, specs)) == first


def test_without_the_cjk_package_text_is_drawn_as_boxes(
    fresh_fonts: None, monkeypatch: pytest.MonkeyPatch, flat: None, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(text_drawing, "_CJK_PACKAGE", "no_such_font_package")
    with caplog.at_level(logging.WARNING, logger=text_drawing.__name__):
        one, other = (render_image(replace(BASE, prompt=p)) for p in PROMPTS["zh"])
    assert "no-such-font-package is not installed" in caplog.text
    assert ImageChops.difference(one, other).getbbox() is None  # boxes, the same for any character
    assert accent_pixels(one) > accent_pixels(render_image(replace(BASE, prompt="a")))
    # Text the default font has is drawn as ever.
    assert render_image(BASE).size == (512, 512)


def test_every_script_survives_random_text() -> None:
    rng = random.Random(7)
    pool = "".join(chr(c) for c in (*range(0x20, 0x250), *range(0x3040, 0x3100), *range(0x4E00, 0x4F00), 0x1F369))
    for size in ((300, 120), (1024, 1024)):
        prompt = "".join(rng.choice(pool) for _ in range(400))
        assert render_image(replace(BASE, prompt=prompt, width=size[0], height=size[1])).size == size
