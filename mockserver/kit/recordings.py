"""Recorded traffic from either kind of file the kit reads: a cassette directory or a HAR file."""

from __future__ import annotations

from pathlib import Path

from mockserver.cassette.layout import CassetteError
from mockserver.cassette.reader import read_cassette
from mockserver.kit.traffic_file import Recorded, TrafficFileError, read_har


def read_recording(path: Path | str) -> list[Recorded]:
    """The exchanges recorded at ``path``: a cassette when it is a directory, else a HAR file."""
    if Path(path).is_dir():
        try:
            return read_cassette(path).recorded()
        except CassetteError as exc:
            raise TrafficFileError(str(exc)) from None
    return read_har(path)
