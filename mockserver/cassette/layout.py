"""A cassette's layout on disk: names, and how a body is written as JSON.

    DIR/index.json                      format, upstreams, one line per exchange, files
    DIR/exchanges/0001-POST-fal-ai-flux-pro-kontext-max.json
    DIR/files/<name>                    files the answers linked to, and binary bodies

Every document is JSON with sorted keys and two-space indents, so that
recording the same calls again gives a diff a person can review. A body is
``{"json": value}`` when it is JSON, ``{"text": "..."}`` when it is other
UTF-8 text, ``{"file": "files/<name>"}`` when it is binary, and ``{}`` when
it is empty.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

FORMAT = 1
INDEX = "index.json"
EXCHANGES = "exchanges"
FILES = "files"
_SLUG = re.compile(r"[^A-Za-z0-9]+")
_SLUG_LENGTH = 60
# Binary bodies written beside the exchanges, named for their media type.
_EXTENSIONS = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
    "application/octet-stream": ".bin", "multipart/form-data": ".multipart",
}


class CassetteError(ValueError):
    """Not a cassette, or not one this version reads; the message says why, in one line."""


def clear(directory: Path) -> None:
    """Make ``directory`` ready for a new recording: an old cassette there is replaced, anything else
    refused (recording never deletes files it did not write)."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise CassetteError(f"{directory} is a file, not a cassette directory")
    if (directory / INDEX).is_file():
        for part in (EXCHANGES, FILES):
            shutil.rmtree(directory / part, ignore_errors=True)
        (directory / INDEX).unlink()
    elif any(directory.iterdir()):
        raise CassetteError(f"{directory} holds files but no {INDEX}: not a cassette to record over")


def exchange_name(seq: int, method: str, path: str) -> str:
    """``exchanges/0007-GET-fal-ai-flux-pro-requests-ID-status.json`` for exchange 7."""
    slug = _SLUG.sub("-", path.split("?", 1)[0]).strip("-")[:_SLUG_LENGTH].rstrip("-") or "root"
    return f"{EXCHANGES}/{seq:04d}-{method.upper()}-{slug}.json"


def extension_for(media: str) -> str:
    return _EXTENSIONS.get(media.split(";", 1)[0].strip().lower(), ".bin")


def dumps(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` whole: a reader (or a crash) never sees half a document."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
