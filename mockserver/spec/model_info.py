"""What a model endpoint's body means, read from the roles in its schema.

:class:`~mockserver.spec.loader.Spec` builds one :class:`ModelInfo` per model
operation at start-up; the queue, the generator and the contract tests read
field names, defaults, sizes and timing from it, never from Python literals.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from mockserver.spec.roles import Role

Played = tuple[str, Any]  # the name of the field that plays a role, and what a body that leaves it out gets


class SubmitRoles(NamedTuple):
    """The fields every submit reads, resolved once per model (None: no field plays the role).

    A submit reads these and the body, and nothing else of the model's schema: no
    merged copy of the defaults, no lookups by role, on every request.
    """

    prompt: Played | None
    aspect_ratio: Played | None
    output_format: Played | None
    sync_mode: Played | None
    num_images: Played | None
    seed: Played | None
    image_input: Played | None
    random_seed: Any  # the seed value that asks for a random one (``x-mock-random-seed``), if any


@dataclass(frozen=True)
class Timing:
    """Simulated seconds, before --time-scale is applied."""

    dispatch_seconds: float
    inference_seconds: float
    per_extra_image_seconds: float

    def inference_for(self, count: int) -> float:
        return self.inference_seconds + self.per_extra_image_seconds * max(0, count - 1)


class BillingUnit(enum.StrEnum):
    IMAGE = "image"  # each image made
    REQUEST = "request"  # each request that succeeds


@dataclass(frozen=True)
class Billing:
    """How fal bills a model (``x-mock-model.billing``): by what, and for how much."""

    unit: BillingUnit
    unit_price_usd: float

    def units_for(self, image_count: int) -> int:
        return image_count if self.unit is BillingUnit.IMAGE else 1

    @classmethod
    def read(cls, raw: Any) -> Billing:
        """The block's contents; ValueError saying what is wrong with them."""
        if not isinstance(raw, Mapping):
            raise ValueError("billing must be a mapping with unit and unit_price_usd")
        unit = raw.get("unit")
        if unit not in set(BillingUnit):
            raise ValueError(f"billing unit {unit!r} is not one of {', '.join(BillingUnit)}")
        price = raw.get("unit_price_usd")
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not 0 <= price < math.inf:
            raise ValueError(f"billing unit_price_usd {price!r} is not a price")
        return cls(BillingUnit(unit), float(price))


@dataclass(frozen=True)
class FieldInfo:
    name: str
    schema: Mapping[str, Any]  # resolved, with sibling keywords merged

    @property
    def is_array(self) -> bool:
        return self.schema.get("type") == "array"


@dataclass(frozen=True)
class ModelInfo:
    """What a model operation's body means, read from the roles in its schema."""

    endpoint_id: str
    title: str
    timing: Timing
    fields: Mapping[Role, FieldInfo]
    defaults: Mapping[str, Any]  # by field name
    image_format: str = "jpeg"  # encoding when no field plays role output_format
    billing: Billing | None = None  # None: the model is not billed (the simulated account ignores it)

    def field(self, role: Role) -> FieldInfo | None:
        return self.fields.get(role)

    def name_of(self, role: Role) -> str | None:
        info = self.fields.get(role)
        return info.name if info else None

    @functools.cached_property
    def roles(self) -> SubmitRoles:
        def played(name: Role, fallback: Any = None) -> Played | None:
            info = self.fields.get(name)
            return (info.name, self.defaults.get(info.name, fallback)) if info else None

        seed = self.fields.get(Role.SEED)
        return SubmitRoles(
            prompt=played(Role.PROMPT, ""),
            aspect_ratio=played(Role.ASPECT_RATIO),
            output_format=played(Role.OUTPUT_FORMAT, self.image_format),
            sync_mode=played(Role.SYNC_MODE, False),
            num_images=played(Role.NUM_IMAGES, 1),
            seed=played(Role.SEED),
            image_input=played(Role.IMAGE_INPUT),
            random_seed=seed.schema.get("x-mock-random-seed") if seed else None,
        )

    @functools.cached_property
    def app_path(self) -> str:
        """``owner/app``: the part of the endpoint id that queue URLs keep (one string, shared by its jobs)."""
        return "/".join(self.endpoint_id.split("/")[:2])

    @functools.cached_property
    def sizes(self) -> Mapping[str, tuple[int, int]]:
        """Output size by aspect ratio (``x-mock-sizes``); read on every submit, so built once, read-only."""
        info = self.fields.get(Role.ASPECT_RATIO)
        table = info.schema.get("x-mock-sizes", {}) if info else {}
        return MappingProxyType({ratio: (int(w), int(h)) for ratio, (w, h) in table.items()})

    def size_like(self, width: int, height: int) -> tuple[int, int]:
        """The table size closest in shape to ``width``×``height``; that size itself without a table."""
        if not self.sizes:
            return width, height
        if width == height:
            return self._square_most
        return _closest_shape(tuple(self.sizes.values()), width / height)

    @functools.cached_property
    def _square_most(self) -> tuple[int, int]:
        # What a body without an aspect ratio or an input image gets: asked on most submits.
        return _closest_shape(tuple(self.sizes.values()), 1.0)

    @functools.cached_property
    def content_types(self) -> Mapping[str, str]:
        """Media type by output format (``x-mock-content-types``)."""
        info = self.fields.get(Role.OUTPUT_FORMAT)
        return MappingProxyType(dict(info.schema.get("x-mock-content-types", {})) if info else {})


@functools.lru_cache(maxsize=256)
def _closest_shape(sizes: tuple[tuple[int, int], ...], ratio: float) -> tuple[int, int]:
    # The answer depends only on these two; inputs come in few shapes.
    target = math.log(ratio)
    return min(sizes, key=lambda wh: abs(math.log(wh[0] / wh[1]) - target))
