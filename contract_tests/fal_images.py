"""The images of a fal result, checked against the request that asked for them.

The names of the result's fields come from the spec's ``x-contract``
(``output_images``); what each request field means, from its roles.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image

from contract_tests.cases import Case, expand_images
from contract_tests.operations import OperationIndex
from contract_tests.report import Findings
from contract_tests.response_checks import check_answer
from mockserver.testing import ModelInfo, Role, Spec


@dataclass(frozen=True)
class ImageFetch:
    """What downloading an image needs: the client's timeout, and the spec to check the answer by."""

    spec: Spec
    index: OperationIndex
    client: httpx.Client


def check_result_images(
    fetch: ImageFetch, names: Mapping[str, str], case: Case, model: ModelInfo, result: Any, found: Findings
) -> None:
    """A result's images against the request: count, size and type stated, and each file as served."""
    images = result.get(names["list"]) if isinstance(result, Mapping) else None
    if not isinstance(images, list):
        return  # the schema check names the missing list
    body = expand_images(case.body) if isinstance(case.body, Mapping) else {}

    def requested(role: Role) -> Any:
        name = model.name_of(role)
        return body.get(name, model.defaults.get(name)) if name else None

    count = requested(Role.NUM_IMAGES)
    found.checked("result.image-count", "result.size", "image.decode", "image.size", "image.content-type")
    if isinstance(count, int) and len(images) != count:
        found.add("result.image-count", f"{len(images)} images for num_images {count}")
    fmt = requested(Role.OUTPUT_FORMAT)
    wanted_type = model.content_types.get(fmt) if isinstance(fmt, str) else None
    ratio = requested(Role.ASPECT_RATIO)
    wanted_size = model.sizes.get(ratio) if isinstance(ratio, str) else None
    for i, image in enumerate(images):
        if not isinstance(image, Mapping):
            continue
        url, stated_type = image.get(names["url"]), image.get(names["content_type"])
        size = (image.get(names["width"]), image.get(names["height"]))
        # content_type is optional (fal's published types): checked when stated.
        if wanted_type and stated_type is not None and stated_type != wanted_type:
            found.add(
                "result.content-type",
                f"images[{i}] is {stated_type!r}; output_format {fmt!r} means {wanted_type!r}",
            )
        if wanted_size and size != wanted_size:
            found.add(
                "result.size",
                f"images[{i}] is {size[0]}x{size[1]}; "
                f"aspect_ratio {ratio!r} means {wanted_size[0]}x{wanted_size[1]}",
            )
        if isinstance(url, str):
            _download(fetch, i, url, stated_type, wanted_type, size, found)


def _download(
    fetch: ImageFetch,
    i: int,
    url: str,
    stated_type: Any,
    wanted_type: str | None,
    size: tuple[Any, Any],
    found: Findings,
) -> None:
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        served_type = header[5:].split(";")[0]
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            found.add("image.decode", f"images[{i}] data URI is not valid base64")
            return
    else:
        try:
            answer = httpx.get(url, timeout=fetch.client.timeout)  # a CDN URL: no credentials
        except httpx.HTTPError as exc:
            found.add("image.download", f"images[{i}] GET {url} failed: {exc}")
            return
        op = fetch.index.find("GET", url)
        if op is not None:
            check_answer(fetch.spec, op, answer, found)
        if answer.status_code != 200:
            found.add("image.download", f"images[{i}] GET {url} answered {answer.status_code}")
            return
        served_type, data = answer.headers.get("content-type", "").split(";")[0].strip(), answer.content
    if stated_type is not None and served_type != stated_type:
        found.add("image.content-type", f"images[{i}] is served as {served_type!r} but stated {stated_type!r}")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            actual, kind = picture.size, Image.MIME.get(picture.format or "", "?")
    except Exception as exc:  # Pillow raises many types for bad data
        found.add("image.decode", f"images[{i}] is not a readable image: {exc}")
        return
    if actual != size:
        found.add("image.size", f"images[{i}] states {size[0]}x{size[1]}, the file is {actual[0]}x{actual[1]}")
    if stated_type is not None and kind != stated_type:
        found.add("image.content-type", f"images[{i}] states {stated_type!r}, the file is {kind!r}")
    elif stated_type is None and wanted_type and kind != wanted_type:
        found.add("image.content-type", f"images[{i}] is {kind!r}; the output_format asked for {wanted_type!r}")
