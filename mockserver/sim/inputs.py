"""Input images of an edit: decoded from data URIs or from the mock's own files.

Remote URLs are not fetched (the mock works offline and must not be turned
into a request relay); the rendered image says so instead. Hosts the user
allowed are fetched beforehand by the HTTP layer (see ``fetch.py``). Decoding is capped
in bytes and pixels, so a hostile input cannot exhaust memory.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

from PIL import Image, UnidentifiedImageError

from mockserver.sim.fetch import Fetched

_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")

THUMBNAIL = (512, 512)  # what the renderer needs; keeps stored jobs small
# The renderer draws at most this many input tiles; later inputs are checked
# (header, size, integrity) but never decoded into pixels, so a request with
# thousands of images costs little more than one with eight.
DECODED_INPUTS = 8
_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]{16,}={0,2}$")


@dataclass(frozen=True)
class ResolvedInput:
    label: str  # where it sits in the request, e.g. "image_urls[1]"
    image: Image.Image | None
    size: tuple[int, int] | None  # the original size, for the output's aspect ratio
    note: str = ""
    error: str | None = None  # set when the input is unusable: the job fails with it


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int


def resolve(
    label: str,
    url: str,
    limits: Limits,
    file_id_in: Callable[[str], str | None],
    lookup_file: Callable[[str], bytes | None],
    fetched: Mapping[str, Fetched] | None = None,
    *,
    decode: bool = True,
) -> ResolvedInput:
    """Read one input. ``file_id_in`` says which URL paths are the mock's own files
    (:class:`~mockserver.spec.file_links.FileLinks`), ``lookup_file`` reads one by id.
    With ``decode`` off the image is only checked (format and size from its header),
    for inputs past the ones the renderer draws."""
    if url.startswith("data:"):
        try:
            data = _data_uri_bytes(url, limits.max_bytes)
        except ValueError as exc:
            return ResolvedInput(label, None, None, error=str(exc))
        return _read(label, data, limits, decode=decode)
    parts = urlsplit(url)
    file_id = file_id_in(parts.path) if parts.scheme in ("http", "https") else None
    if file_id is not None:
        stored = lookup_file(file_id)
        if stored is None:
            return ResolvedInput(label, None, None, error=f"file not found on this server: {url}")
        return _read(label, stored, limits, decode=decode)
    remote = (fetched or {}).get(url)
    if remote is not None:
        if remote.data is None:
            return ResolvedInput(label, None, None, error=remote.error)
        return _read(label, remote.data, limits, decode=decode)
    if not parts.scheme and _BASE64.match(url):
        # Some APIs take bare base64 image data where others take a data URI.
        return resolve(label, "data:;base64," + url, limits, file_id_in, lookup_file, decode=decode)
    return ResolvedInput(label, None, None, note=f"remote URL not fetched (offline): {url}")


def _data_uri_bytes(url: str, max_bytes: int) -> bytes:
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise ValueError("malformed data URI: no comma")
    media_type = header.split(";")[0].strip().lower()
    if media_type and not media_type.startswith("image/"):
        raise ValueError(f"data URI is {media_type!r}, not an image")
    # Base64 grows data by 4/3: reject before decoding anything huge.
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise ValueError(f"image exceeds {max_bytes} bytes")
    if header.endswith(";base64"):
        try:
            data = base64.b64decode(payload.strip(), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"data URI is not valid base64: {exc}") from exc
    else:
        data = unquote_to_bytes(payload)
    if not data:
        raise ValueError("data URI is empty")
    return data


def _read(label: str, data: bytes, limits: Limits, *, decode: bool = True) -> ResolvedInput:
    """Open an input within the limits; decode it to a thumbnail, or (``decode``
    off) only verify its structure, for inputs past the ones the renderer draws."""
    if len(data) > limits.max_bytes:
        return ResolvedInput(label, None, None, error=f"image exceeds {limits.max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ValueError(f"image is {width}x{height}, over the {limits.max_pixels}-pixel limit")
            if not decode:
                image.verify()  # chunk checksums and structure, without decoding pixels
                return ResolvedInput(label, None, (width, height), note="not shown")
            image.draft("RGB", THUMBNAIL)  # JPEG decodes straight to a small size
            image.load()
            thumb = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
            thumb.thumbnail(THUMBNAIL)
    except UnidentifiedImageError:
        return ResolvedInput(label, None, None, error="cannot load image: not a format the mock reads")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's messages may name the in-memory file it read ("<_io.BytesIO object at 0x...>").
        reason = _OBJECT_REPR.sub("the data", str(exc)) or type(exc).__name__
        return ResolvedInput(label, None, None, error=f"cannot load image: {reason}")
    return ResolvedInput(label, thumb, (width, height))
