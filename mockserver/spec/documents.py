"""The parts of a loaded spec: its documents, their operations, and models named in a body.

Plain frozen records; :class:`~mockserver.spec.loader.Spec` builds them once
and they refer back to it for ``$ref`` resolution and the request-id header.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockserver.spec.model_info import ModelInfo, Timing
from mockserver.spec.roles import Role

if TYPE_CHECKING:
    from mockserver.spec.loader import Spec

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
JSON = "application/json"


class SpecError(Exception):
    """The spec is malformed or asks for something the mock cannot do."""


def pointer_segment(segment: str) -> str:
    """One segment of a JSON pointer, escaped (RFC 6901)."""
    return segment.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class NamedModel:
    """A model picked by the body's ``model`` field (``x-mock-models``) rather than by the path."""

    name: str
    document: SpecDocument = field(repr=False)
    schema_pointer: str  # JSON pointer of its body schema in ``document``
    info: ModelInfo
    raw: Mapping[str, Any] = field(repr=False)  # the x-mock-models entry (title, owned_by, created, ...)


@dataclass(frozen=True)
class Operation:
    document: SpecDocument = field(repr=False)
    path: str
    method: str
    operation_id: str
    handler: str
    pointer: str  # JSON pointer of the operation object in its document
    raw: Mapping[str, Any] = field(repr=False)
    model: ModelInfo | None = None

    @property
    def dialect(self) -> str:
        return self.document.dialect

    @property
    def is_extension(self) -> bool:
        """An operation of the mock's own, not of the emulated service (``x-mock-extension`` on it or
        its document): what the conformance suite checks only when asked to."""
        return bool(self.raw.get("x-mock-extension", self.document.is_extension))

    def body_schema_pointer(self, media_type: str = JSON) -> str | None:
        content = self.raw.get("requestBody", {}).get("content", {})
        if media_type not in content or "schema" not in content[media_type]:
            return None
        return f"{self.pointer}/requestBody/content/{pointer_segment(media_type)}/schema"

    def path_converters(self) -> dict[str, str]:
        converters: dict[str, str] = {}
        for param in self.parameters():
            converter = param.get("x-mock-path-converter")
            if param.get("in") == "path" and converter:
                converters[param["name"]] = converter
        return converters

    def parameters(self) -> tuple[Mapping[str, Any], ...]:
        """The path item's parameters, then the operation's, their refs followed."""
        return self._parameters

    @functools.cached_property
    def _parameters(self) -> tuple[Mapping[str, Any], ...]:
        # Resolved once per operation: the spec is read-only, and every app built from it reads them.
        path_item = self.document.raw["paths"][self.path]
        params = [*path_item.get("parameters", []), *self.raw.get("parameters", [])]
        return tuple(self.document.spec.resolve(p, self.document) for p in params)

    def header_names(self, role: Role) -> list[str]:
        """Lower-case names of the header parameters with ``role``, in the order the spec lists them."""
        return [
            str(p["name"]).lower()
            for p in self.parameters()
            if p.get("in") == "header" and p.get("x-mock-role") == role
        ]

    @functools.cached_property
    def security_required(self) -> bool:
        security = self.raw.get("security", self.document.raw.get("security"))
        return bool(security)


@dataclass(frozen=True)
class SpecDocument:
    spec: Spec = field(repr=False)
    uri: str
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def dialect(self) -> str:
        return str(self.raw.get("x-mock-dialect", "fal"))

    @property
    def path_prefix(self) -> str:
        return str(self.raw.get("x-mock-path-prefix", ""))

    @property
    def is_extension(self) -> bool:
        """A document of the mock's own routes (steering, the dashboard), marked ``x-mock-extension``."""
        return self.raw.get("x-mock-extension") is True

    @functools.cached_property
    def stamped_request_id_header(self) -> bytes | None:
        """The header (lower-case, as ASGI spells it) every answer carries a request id in, when the
        document asks for one on every answer (``x-mock-stamp-request-id``)."""
        if self.raw.get("x-mock-stamp-request-id") is not True:
            return None
        return self.spec.request_id_header(self.dialect).encode("latin-1")

    def answer_header(self, role: Role) -> str | None:
        """This document's response header (lower-case) with ``role``, if its dialect declares one."""
        return self.spec.answer_header(self.dialect, role)

    def timing(self, overrides: Mapping[str, Any]) -> Timing:
        merged = {**self.raw.get("x-mock-timing", {}), **overrides}
        try:
            return Timing(
                dispatch_seconds=float(merged.get("dispatch_seconds", 0.0)),
                inference_seconds=float(merged.get("inference_seconds", 0.0)),
                per_extra_image_seconds=float(merged.get("per_extra_image_seconds", 0.0)),
            )
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{self.uri}: bad x-mock-timing: {exc}") from exc


def parameter_schema(parameter: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A parameter's schema: its own, or that of its JSON content (None: it has neither)."""
    if "schema" in parameter:
        schema: Mapping[str, Any] = parameter["schema"]
        return schema
    content = parameter.get("content")
    json_content = content.get("application/json") if isinstance(content, Mapping) else None
    if isinstance(json_content, Mapping) and isinstance(json_content.get("schema"), Mapping):
        return dict(json_content["schema"])
    return None
