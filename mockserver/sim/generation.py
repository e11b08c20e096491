"""From a validated request to images: sizes, seeds, and the output document.

Field meanings come from the spec's roles (``ModelInfo``); pixels come from
the renderer. Rendering is pure and thread-safe, so the caller may run it off
the event loop.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.sim.inputs import ResolvedInput
from mockserver.sim.renderer import InputImage, RenderSpec, render, render_blocked
from mockserver.spec.model_info import ModelInfo

FileUrl = Callable[[str, str], str]  # (file id, file name) -> absolute URL
SEED_RANGE = 2**31  # seeds chosen by the mock fit a signed 32-bit int, like fal's


@dataclass(slots=True)
class Plan:
    """What a job will draw, decided at submit (and not changed after)."""

    endpoint_id: str
    prompt: str
    seed: int
    image_count: int
    width: int
    height: int
    image_format: str
    content_type: str
    data_uris: bool  # sync mode: inline the images, store nothing
    flagged: bool = False  # the safety checker blocks the output: black images, has_nsfw_concepts true

    def spec_for(self, index: int, inputs: tuple[ResolvedInput, ...]) -> RenderSpec:
        return RenderSpec(
            endpoint=self.endpoint_id,
            prompt=self.prompt,
            seed=self.seed,
            index=index,
            count=self.image_count,
            width=self.width,
            height=self.height,
            image_format=self.image_format,
            inputs=tuple(InputImage(i.label, i.image, i.note) for i in inputs),
        )


@dataclass(frozen=True, slots=True)
class RenderedImage:
    width: int
    height: int
    content_type: str
    file_name: str
    file_size: int
    file_id: str | None = None  # stored on the mock
    data_uri: str | None = None  # sync mode

    def url(self, file_url: FileUrl) -> str:
        if self.data_uri is not None:
            return self.data_uri
        assert self.file_id is not None
        return file_url(self.file_id, self.file_name)


@dataclass(frozen=True)
class Output:
    images: tuple[RenderedImage, ...]
    seed: int
    prompt: str
    inference_seconds: float
    flagged: bool = False

    def to_json(self, file_url: FileUrl) -> dict[str, Any]:
        return {
            "images": [
                {
                    "url": image.url(file_url),
                    "width": image.width,
                    "height": image.height,
                    "content_type": image.content_type,
                    "file_name": image.file_name,
                    "file_size": image.file_size,
                }
                for image in self.images
            ],
            "timings": {"inference": round(self.inference_seconds, 4)},
            "seed": self.seed,
            "has_nsfw_concepts": [self.flagged] * len(self.images),
            "prompt": self.prompt,
        }


def image_inputs(model: ModelInfo, body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, url) for every input image the request names."""
    role = model.roles.image_input
    if role is None:
        return []
    name, default = role
    value = body.get(name, default)
    if value is None:
        return []
    if isinstance(value, list):
        return [(f"{name}[{i}]", str(v)) for i, v in enumerate(value)]
    return [(name, str(value))]


def make_plan(model: ModelInfo, body: Mapping[str, Any], inputs: tuple[ResolvedInput, ...]) -> Plan:
    """What the body (as sent: the model's defaults fill what it leaves out) will draw.

    The seed is the body's, or a random one when it names none (or the value
    that asks for a random one); the image count is the body's when positive.
    """
    # Each role is (field name, default) or None when no field plays it.
    roles = model.roles
    ratio = body.get(*roles.aspect_ratio) if roles.aspect_ratio else None
    if isinstance(ratio, str) and ratio in model.sizes:
        width, height = model.sizes[ratio]
    else:
        width, height = _follow_input(model, inputs)
    image_format = str(body.get(*roles.output_format)) if roles.output_format else model.image_format
    count = body.get(*roles.num_images) if roles.num_images else 1
    seed = body.get(*roles.seed) if roles.seed else None
    # Some APIs reserve a value (e.g. -1) that asks for a random seed.
    if type(seed) is not int or (roles.random_seed is not None and seed == roles.random_seed):
        seed = secrets.randbelow(SEED_RANGE)
    return Plan(
        endpoint_id=model.endpoint_id,
        prompt=str(body.get(*roles.prompt)) if roles.prompt else "",
        seed=seed,
        image_count=int(count) if isinstance(count, int) and count > 0 else 1,
        width=width,
        height=height,
        image_format=image_format,
        content_type=model.content_types.get(image_format) or f"image/{image_format}",
        data_uris=bool(body.get(*roles.sync_mode)) if roles.sync_mode else False,
    )


def _follow_input(model: ModelInfo, inputs: tuple[ResolvedInput, ...]) -> tuple[int, int]:
    """The table size closest in shape to the first decodable input; square without one."""
    for given in inputs:
        if given.size:
            return model.size_like(*given.size)
    return model.size_like(1024, 1024)


def render_images(plan: Plan, inputs: tuple[ResolvedInput, ...]) -> list[bytes]:
    if plan.flagged:
        return [render_blocked(plan.width, plan.height, plan.image_format)] * plan.image_count
    return [render(plan.spec_for(index, inputs)) for index in range(plan.image_count)]


def file_name(plan: Plan, index: int) -> str:
    extension = "jpg" if plan.image_format == "jpeg" else plan.image_format
    return f"kontext-{plan.seed}-{index}.{extension}"


def data_uri(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64," + base64.b64encode(data).decode("ascii")
