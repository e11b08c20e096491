"""Request fixtures: bodies for each endpoint and the outcome the spec promises.

Fixture files live in ``fixtures/requests/*.yaml`` (see the header of
``fal-kontext.yaml`` for the format). They are data: adding an endpoint to the
suite is adding YAML, never Python.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockserver.testing import read_yaml

_PACKAGED = Path(__file__).resolve().parent / "fixtures"
FIXTURES_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "fixtures"
IMAGE_PREFIX = "@image:"
mimetypes.add_type("image/webp", ".webp")


class FixtureError(Exception):
    """A fixture file is malformed."""


@dataclass(frozen=True)
class Expect:
    status: int
    field: str | None = None


@dataclass(frozen=True)
class Case:
    api: str
    endpoint: str
    kind: str  # "valid" or "invalid"
    name: str
    body: Any = None
    raw: str | None = None
    content_type: str = "application/json"
    expect: Expect = field(default_factory=lambda: Expect(200))

    @property
    def id(self) -> str:
        return f"{self.endpoint}::{self.kind}::{self.name}"

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode("utf-8")
        return json.dumps(expand_images(self.body), ensure_ascii=False).encode("utf-8")

    def describe(self) -> str:
        """The request in a report: its name and a short body."""
        shown = self.raw if self.raw is not None else json.dumps(self.body, ensure_ascii=False)
        if len(shown) > 160:
            shown = shown[:157] + "..."
        return f"{self.kind} request {self.name!r}: {shown}"


def image_path(name: str) -> Path:
    path = (FIXTURES_DIR / "images" / name).resolve()
    if path.parent != (FIXTURES_DIR / "images").resolve() or not path.is_file():
        raise FixtureError(f"no fixture image {name!r}")
    return path


def data_uri(name: str) -> str:
    path = image_path(name)
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{media};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def expand_images(value: Any) -> Any:
    """Replace every ``@image:NAME`` string with the data URI of that fixture image."""
    if isinstance(value, str) and value.startswith(IMAGE_PREFIX):
        return data_uri(value[len(IMAGE_PREFIX) :])
    if isinstance(value, list):
        return [expand_images(v) for v in value]
    if isinstance(value, Mapping):
        return {k: expand_images(v) for k, v in value.items()}
    return value


def _flatten(items: Any) -> Iterator[Mapping[str, Any]]:
    for item in items or []:
        if isinstance(item, list):  # a YAML alias to a shared list of cases
            yield from _flatten(item)
        elif isinstance(item, Mapping):
            yield item
        else:
            raise FixtureError(f"a case must be a mapping, not {item!r}")


def _case(api: str, endpoint: str, kind: str, raw: Mapping[str, Any]) -> Case:
    try:
        expect = raw.get("expect", {})
        return Case(
            api=api,
            endpoint=endpoint,
            kind=kind,
            name=str(raw["name"]),
            body=raw.get("body"),
            raw=raw.get("raw"),
            content_type=str(raw.get("content_type", "application/json")),
            expect=Expect(int(expect.get("status", 200 if kind == "valid" else 422)), expect.get("field")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FixtureError(f"{endpoint} {kind} case {raw!r}: {exc}") from exc


def load_file(path: Path) -> list[Case]:
    try:
        doc = read_yaml(path)
    except (OSError, yaml.YAMLError) as exc:
        raise FixtureError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("endpoints"), Mapping):
        raise FixtureError(f"{path}: needs `api` and an `endpoints` mapping")
    api = str(doc.get("api", "fal"))
    cases: list[Case] = []
    for endpoint, groups in doc["endpoints"].items():
        for kind in ("valid", "invalid"):
            cases.extend(_case(api, str(endpoint), kind, raw) for raw in _flatten((groups or {}).get(kind)))
    return cases


def load_cases(directory: Path | None = None) -> list[Case]:
    folder = directory or FIXTURES_DIR / "requests"
    return [case for path in sorted(folder.glob("*.yaml")) for case in load_file(path)]
