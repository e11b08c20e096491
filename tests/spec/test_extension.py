"""Adding a model to the family is adding YAML: no Python changes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.config import Settings
from mockserver.sim.clock import ManualClock
from mockserver.spec.documents import SpecError
from mockserver.spec.loader import Spec, default_spec_paths
from mockserver.testing import MockServer
from tests.helpers import decode

EXTRA = """
openapi: 3.1.0
info: {title: extra, version: '1'}
x-mock-dialect: fal
x-mock-timing: {dispatch_seconds: 1, inference_seconds: 2, per_extra_image_seconds: 0}
paths:
  /acme/tiny-kontext/draft:
    post:
      operationId: submitTiny
      x-mock-handler: fal.submit
      x-mock-model: {title: Tiny Kontext}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: {type: string, minLength: 3, x-mock-role: prompt}
                count: {type: integer, minimum: 1, maximum: 2, default: 2, x-mock-role: num_images}
                shape:
                  type: string
                  enum: [wide, tall]
                  default: wide
                  x-mock-role: aspect_ratio
                  x-mock-sizes: {wide: [320, 160], tall: [160, 320]}
                encoding:
                  type: string
                  enum: [webp]
                  default: webp
                  x-mock-role: output_format
                  x-mock-content-types: {webp: image/webp}
      responses:
        '200': {description: queued}
"""


@pytest.fixture
def extra_spec(tmp_path: Path) -> Path:
    path = tmp_path / "extra.yaml"
    path.write_text(EXTRA)
    return path


def test_a_new_model_is_served_validated_and_rendered_from_yaml(extra_spec: Path) -> None:
    clock = ManualClock()
    settings = Settings(port=0, spec_paths=(*default_spec_paths(), extra_spec))
    with MockServer(settings, clock=clock) as mock, httpx.Client(base_url=mock.url) as http:
        bad = http.post("/acme/tiny-kontext/draft", json={"text": "ab", "count": 3, "shape": "round"})
        assert bad.status_code == 422
        assert {tuple(i["loc"]) for i in bad.json()["detail"]} == {
            ("body", "text"), ("body", "count"), ("body", "shape")
        }
        ticket = http.post("/acme/tiny-kontext/draft", json={"text": "a small fox", "shape": "tall"}).json()
        # the new model's queue URLs drop its subpath like every fal app
        assert "/acme/tiny-kontext/requests/" in ticket["status_url"]
        assert http.get(ticket["status_url"]).json()["status"] == "IN_QUEUE"
        clock.advance(1.5)  # the extra document's own timing
        assert http.get(ticket["status_url"]).json()["status"] == "IN_PROGRESS"
        clock.advance(2)
        result = http.get(ticket["response_url"]).json()
        assert len(result["images"]) == 2  # the default count from the YAML
        image = result["images"][0]
        assert (image["width"], image["height"], image["content_type"]) == (160, 320, "image/webp")
        picture = decode(http.get(image["url"]).content)
        assert (picture.format, picture.size) == ("WEBP", (160, 320))


def test_the_run_host_serves_a_new_model_too(extra_spec: Path) -> None:
    settings = Settings(port=0, time_scale=0, spec_paths=(*default_spec_paths(), extra_spec))
    with MockServer(settings) as mock:
        response = httpx.post(f"{mock.url}/run/acme/tiny-kontext/draft", json={"text": "now then", "count": 1})
        assert response.status_code == 200
        assert [i["content_type"] for i in response.json()["images"]] == ["image/webp"]


def test_an_unknown_handler_is_refused_at_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXTRA.replace("fal.submit", "fal.teleport"))
    with pytest.raises(SpecError, match=r"fal\.teleport"):
        MockServer(Settings(port=0, spec_paths=(broken,)))


def test_a_file_that_is_not_openapi_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="not an OpenAPI document"):
        Spec.load([junk])
