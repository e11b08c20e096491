"""The shared fixtures are sound: images as named, requests loadable, example answers valid."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from contract_tests.cases import FIXTURES_DIR, FixtureError, data_uri, load_cases, load_file
from contract_tests.response_checks import documented_response
from mockserver.spec.loader import default_spec

SPEC = default_spec()
EXAMPLES = sorted((FIXTURES_DIR / "responses").glob("*.json"))
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def test_sample_images_cover_formats_and_shapes() -> None:
    spec = importlib.util.spec_from_file_location("make_images", FIXTURES_DIR / "make_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    IMAGES = module.IMAGES

    formats, shapes = set(), set()
    for name, (width, height, fmt, _) in IMAGES.items():
        path = FIXTURES_DIR / "images" / name
        assert path.stat().st_size < 8 * 1024, f"{name} should stay small"
        with Image.open(path) as image:
            assert (image.width, image.height, image.format) == (width, height, fmt)
        formats.add(fmt)
        shapes.add(round(width / height, 2))
        assert data_uri(name).startswith(f"data:{MIME[fmt]};base64,")
    assert formats == {"PNG", "JPEG", "WEBP"}
    assert len(shapes) >= 4


def test_request_fixtures_load_and_expand() -> None:
    cases = load_cases()
    assert {c.kind for c in cases} == {"valid", "invalid"}
    for case in cases:
        payload = case.payload()
        assert b"@image:" not in payload, case.id


def test_a_missing_image_or_bad_file_is_a_fixture_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("api: fal\nendpoints:\n  x:\n    valid:\n      - {name: n, body: {image_url: '@image:nope.png'}}\n")
    [case] = load_file(bad)
    with pytest.raises(FixtureError, match=r"no fixture image 'nope\.png'"):
        case.payload()
    bad.write_text("just text")
    with pytest.raises(FixtureError):
        load_file(bad)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_response_matches_the_spec(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    op = SPEC.operation(example["operation"])
    found = documented_response(SPEC, op, example["status"])
    assert found is not None, f"{path.name}: status {example['status']} is not documented"
    pointer, _ = found
    validator = SPEC.validator(op.document, f"{pointer}/content/application~1json/schema")
    errors = [e.message for e in validator.iter_errors(example["body"])]
    assert errors == [], f"{path.name}: {errors}"


def test_examples_cover_the_lifecycle() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"submit-queued", "status-in-queue", "status-completed", "result", "validation-error"} <= names
