from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from mockserver.sim import renderer
from mockserver.sim.renderer import InputImage, RenderSpec, render, render_image

ROOT = Path(__file__).resolve().parents[2]
MAGENTA = (255, 0, 255)

BASE = RenderSpec(
    endpoint="fal-ai/flux-pro/kontext/max",
    prompt="Put a donut next to the flour",
    seed=42,
    index=0,
    count=1,
    width=512,
    height=512,
    image_format="png",
)


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def count_pixels(img: Image.Image, low: tuple[int, int, int], high: tuple[int, int, int]) -> int:
    """Pixels whose every channel lies within [low, high]."""
    masks = [
        band.point(lambda v, lo=lo, hi=hi: 255 if lo <= v <= hi else 0)
        for band, lo, hi in zip(img.convert("RGB").split(), low, high, strict=True)
    ]
    both = ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2])
    return both.histogram()[255]


def count_magenta(img: Image.Image) -> int:
    return count_pixels(img, (235, 0, 235), (255, 20, 255))


@pytest.mark.parametrize("fmt,pil_name", [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("JPEG", "JPEG")])
@pytest.mark.parametrize("size", [(1024, 1024), (1024, 768), (640, 1536), (16, 16), (4000, 300), (300, 4000), (1, 1)])
def test_exact_size_and_format(fmt: str, pil_name: str, size: tuple[int, int]) -> None:
    spec = replace(BASE, width=size[0], height=size[1], image_format=fmt)
    img = decode(render(spec))
    assert img.size == size
    assert img.format == pil_name
    assert img.mode == "RGB"


def test_render_is_encoded_render_image() -> None:
    assert ImageChops.difference(decode(render(BASE)), render_image(BASE)).getbbox() is None


def test_equal_specs_give_identical_bytes() -> None:
    inputs = (InputImage("image_url", Image.new("RGB", (64, 48), (10, 200, 30))),)
    for fmt in ("jpeg", "png", "webp"):
        a = replace(BASE, image_format=fmt, inputs=inputs)
        b = replace(BASE, image_format=fmt, inputs=inputs)
        assert render(a) == render(b)


def test_concurrent_renders_match_serial_ones() -> None:
    # The server renders in worker threads, sharing the cached fonts.
    inputs = (InputImage("image_url", Image.new("RGBA", (300, 200), (*MAGENTA, 200))),)
    specs = [replace(BASE, seed=s, prompt=f"prompt {s} " * 20, inputs=inputs[: s % 2]) for s in range(12)]
    expected = [render(spec) for spec in specs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(render, specs)) == expected


# The second prompt loads the CJK font afresh in each process.
@pytest.mark.parametrize("prompt", ["a cat", "一只猫 ねこ 고양이"])
def test_output_does_not_depend_on_hash_randomisation(prompt: str) -> None:
    code = (
        "import hashlib; from mockserver.sim.renderer import RenderSpec, render; "
        f"print(hashlib.sha256(render(RenderSpec('e/x', {prompt!r}, 7, 1, 2, 200, 100, 'png'))).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    here = hashlib.sha256(render(RenderSpec("e/x", prompt, 7, 1, 2, 200, 100, "png"))).hexdigest()
    assert digests == {here}


def mean_difference(a: RenderSpec, b: RenderSpec) -> float:
    diff = ImageChops.difference(render_image(a), render_image(b)).convert("L")
    hist = diff.histogram()
    return sum(v * n for v, n in enumerate(hist)) / sum(hist)


@pytest.mark.parametrize("change", [{"seed": 43}, {"seed": -42}, {"index": 1}, {"index": 2}])
def test_seed_and_index_change_the_picture_visibly(change: dict[str, int]) -> None:
    other = replace(BASE, **change)  # type: ignore[arg-type]
    assert render(other) != render(BASE)
    # Not just the text: the background differs over much of the picture.
    assert mean_difference(BASE, other) > 10


@dataclass
class Drawn:
    text: str
    y: float
    size: float


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Drawn]:
    """Fills with every string the renderer draws, with its y and font size."""
    seen: list[Drawn] = []
    real = ImageDraw.ImageDraw.text

    def spy(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(Drawn(str(text), xy[1], getattr(kwargs.get("font"), "size", 10)))
        real(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    return seen


def test_text_identifies_the_request(drawn: list[Drawn]) -> None:
    render(replace(BASE, index=1, count=4, width=1024, height=768, image_format="jpeg"))
    joined = "\n".join(d.text for d in drawn)
    assert "fal-ai/flux-pro/kontext/max" in joined
    assert "seed 42" in joined
    assert "image 2/4" in joined
    assert "1024x768 JPEG" in joined
    assert "Put a donut next to the flour" in joined


def test_prompt_is_cleaned_wrapped_and_truncated(drawn: list[Drawn]) -> None:
    prompt = "start\x00\x07\x1b[31m tab\there\nnext\u202e\u200b\ud800 " + "word " * 4000 + "END"
    render(replace(BASE, width=1024, height=1024, prompt=prompt))
    joined = "".join(d.text for d in drawn)
    assert not [c for c in joined if ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u200b\ud800"]
    assert "start" in joined and "tab here next" in joined
    assert "END" not in joined and "\u2026" in joined
    assert len(joined) < 2000
    assert len(drawn) > 4  # wrapped over several lines


@pytest.mark.parametrize("size", [(1024, 256), (512, 512), (300, 120)])
def test_long_prompt_stays_inside_the_picture(drawn: list[Drawn], size: tuple[int, int]) -> None:
    render(replace(BASE, width=size[0], height=size[1], prompt="many words " * 500))
    assert len(drawn) >= 4
    assert all(d.y + d.size <= size[1] for d in drawn)


def test_huge_seed_is_shown_abbreviated(drawn: list[Drawn]) -> None:
    render(replace(BASE, seed=-(10**5000)))
    assert any(d.text.startswith("seed -0x") and "bits" in d.text for d in drawn)


def test_labels_and_notes_are_drawn(drawn: list[Drawn]) -> None:
    note = "remote URL not fetched (offline)"
    inputs = (InputImage("image_url", Image.new("RGB", (50, 50))), InputImage("image_urls[1]", None, note))
    render(replace(BASE, width=1024, height=1024, inputs=inputs))
    texts = [d.text for d in drawn]
    assert "image_url" in texts and "image_urls[1]" in texts
    assert note in " ".join(texts)


@pytest.mark.parametrize("seed", range(6))
def test_text_sits_on_a_dark_panel(seed: int) -> None:
    img = render_image(replace(BASE, seed=seed, width=1024, height=1024))
    # Background colours never reach near-white, so these pixels are text.
    white = (240, 240, 240), (255, 255, 255)
    assert count_pixels(img.crop((0, 0, 1024, 300)), *white) > 500
    assert count_pixels(img.crop((0, 700, 1024, 1024)), *white) == 0
    # Behind the text most pixels are dark, whatever the background colour.
    luma = img.crop((20, 20, 300, 120)).convert("L")
    dark = sum(luma.histogram()[:91])
    assert dark > 0.75 * luma.width * luma.height


@pytest.mark.parametrize(
    "source",
    [
        Image.new("RGB", (300, 200), MAGENTA),
        Image.new("RGBA", (120, 400), (*MAGENTA, 255)),
        Image.new("CMYK", (200, 200), (0, 255, 0, 0)),
        Image.new("RGB", (3000, 2000), MAGENTA),
    ],
    ids=["rgb", "rgba", "cmyk", "large"],
)
def test_input_image_appears(source: Image.Image) -> None:
    spec = replace(BASE, inputs=(InputImage("image_url", source),))
    with_input = decode(render(spec))
    without = decode(render(BASE))
    assert count_magenta(without) == 0
    assert count_magenta(with_input) > 5000
    # It sits in the lower part, below the text panel.
    assert count_magenta(with_input.crop((0, 256, 512, 512))) > 5000


def test_palette_input_with_transparency_is_flattened() -> None:
    pal = Image.new("P", (200, 200), 0)
    pal.putpalette([*MAGENTA, 0, 0, 0] + [0, 0, 0] * 254)
    pal.paste(1, (0, 0, 200, 100))
    pal.info["transparency"] = 1  # the black half is transparent
    out = render_image(replace(BASE, inputs=(InputImage("image_url", pal),)))
    assert count_magenta(out) > 2000
    # The transparent half shows the neutral grey, not the palette's black.
    assert count_pixels(out, (145, 145, 145), (155, 155, 155)) > 2000


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "La", "P", "PA", "I", "I;16", "I;16B", "F", "YCbCr", "LAB", "HSV", "RGBa", "RGBX"]
)
def test_unusual_input_modes_are_shown(mode: str, drawn: list[Drawn]) -> None:
    out = render_image(replace(BASE, inputs=(InputImage(mode, Image.new(mode, (40, 30))),)))
    assert out.size == (512, 512)
    assert not [d.text for d in drawn if "cannot" in d.text]  # a thumbnail, not a placeholder


def test_sixteen_bit_input_uses_the_full_range() -> None:
    deep = Image.new("I;16", (200, 200), 128 * 257)  # mid grey in 16 bits
    deep.paste(65535, (0, 0, 100, 200))
    out = render_image(replace(BASE, inputs=(InputImage("image_url", deep),)))
    base = render_image(BASE)
    grey = (126, 126, 126), (130, 130, 130)
    white = (250, 250, 250), (255, 255, 255)
    # Neither clipped (all white) nor stretched to its own range (black).
    assert count_pixels(out, *grey) - count_pixels(base, *grey) > 2000
    assert count_pixels(out, *white) - count_pixels(base, *white) > 2000


def test_float_input_is_stretched_to_visible_range() -> None:
    data = Image.new("F", (200, 200), 0.0)
    data.paste(1.0, (0, 0, 100, 200))  # 0..1 floats would all be black if clipped
    out = render_image(replace(BASE, inputs=(InputImage("image_url", data),)))
    base = render_image(BASE)
    white = (250, 250, 250), (255, 255, 255)
    assert count_pixels(out, *white) - count_pixels(base, *white) > 2000


def test_missing_input_shows_placeholder() -> None:
    note = "remote URL not fetched (offline): https://v3.fal.media/files/x.png"
    spec = replace(BASE, inputs=(InputImage("image_urls[1]", None, note),))
    img = decode(render(spec))
    assert img.size == (512, 512)
    assert render(spec) != render(BASE)
    assert render(spec) != render(replace(spec, inputs=(InputImage("image_urls[1]", None, "other"),)))


def test_undecodable_input_becomes_placeholder() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), MAGENTA).save(buf, "PNG")
    broken = Image.open(io.BytesIO(buf.getvalue()[:60]))  # lazily loaded, truncated
    spec = replace(BASE, inputs=(InputImage("image_url", broken), InputImage("empty", Image.new("RGB", (0, 0)))))
    out = render_image(spec)
    assert count_magenta(out) == 0
    assert render(spec) != render(BASE)


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "日本語のプロンプト、絵文字 🍩🧁 и кириллица, עברית",
        "tab\tnew\nline\r\x00\x07\x1b[31m\u202eevil\u200b\ufeff \ud800 lone surrogate",
        "word " * 4000,
        "x" * 20000,
        "\n" * 5000,
    ],
    ids=["empty", "unicode", "controls", "long-words", "long-run", "only-newlines"],
)
def test_odd_prompts_do_not_crash(prompt: str) -> None:
    for size in ((1024, 1024), (16, 16), (4000, 300)):
        spec = replace(BASE, prompt=prompt, width=size[0], height=size[1])
        assert decode(render(spec)).size == size


@pytest.mark.parametrize(
    "seed",
    [0, -1, -(2**63), 2**64 + 5, 10**5000, -(10**5000)],
    ids=["zero", "minus-one", "min-int64", "above-uint64", "5000-digits", "minus-5000-digits"],
)
def test_extreme_seeds(seed: int) -> None:
    spec = replace(BASE, seed=seed)
    assert render(spec) == render(spec)
    assert decode(render(spec)).size == (512, 512)


def test_odd_endpoint_and_labels() -> None:
    spec = replace(
        BASE,
        endpoint="\x00" + "fal-ai/" * 500,
        inputs=(InputImage("\n" * 3, Image.new("L", (5, 500), 128)), InputImage("image_urls[9]" * 100, None, "")),
    )
    assert render_image(spec).size == (512, 512)


def test_many_inputs_cost_only_the_shown_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = renderer._thumbnail

    def counting(src: Image.Image, side: int) -> Image.Image:
        nonlocal calls
        calls += 1
        return real(src, side)

    monkeypatch.setattr(renderer, "_thumbnail", counting)
    big = Image.new("RGB", (2048, 2048), MAGENTA)  # per-input work on this would take seconds
    inputs = tuple(InputImage(f"image_urls[{i}]", big if i % 2 else None, "note") for i in range(3000))
    spec = replace(BASE, width=1024, height=1024, inputs=inputs)
    start = time.perf_counter()
    data = render(spec)
    elapsed = time.perf_counter() - start
    assert decode(data).size == (1024, 1024)
    assert calls <= 8
    assert elapsed < 2.0  # ~30 ms in practice; thousands of thumbnails would take seconds
    # The "+N more" tile tells how many were left out.
    assert render(replace(spec, inputs=inputs[:-1])) != data


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        render(replace(BASE, image_format="gif"))
    with pytest.raises(ValueError):
        render(replace(BASE, width=0))


@settings(max_examples=25, deadline=None)
@given(
    width=st.integers(min_value=16, max_value=2048),
    height=st.integers(min_value=16, max_value=2048),
    fmt=st.sampled_from(["jpeg", "png"]),
)
def test_any_size_decodes_to_that_size(width: int, height: int, fmt: str) -> None:
    img = decode(render(replace(BASE, width=width, height=height, image_format=fmt)))
    assert img.size == (width, height)
    assert img.format == fmt.upper()
