"""Recorded traffic from either kind of file the kit reads: a cassette directory or a HAR file."""

from __future__ import annotations

from pathlib import Path

from mockserver.cassette.layout import CassetteError
from mockserver.cassette.reader import Cassette, read_cassette
from mockserver.kit.traffic_file import Recorded, TrafficFileError, read_har
from mockserver.spec.hosts import HostMap


def read_recording(path: Path | str, hosts: HostMap | None = None) -> list[Recorded]:
    """The exchanges recorded at ``path``: a cassette when it is a directory, else a HAR file (whose
    real URLs ``hosts`` reads back to the mock's paths; a cassette keeps the paths it was asked)."""
    if Path(path).is_dir():
        try:
            return cassette_records(read_cassette(path))
        except CassetteError as exc:
            raise TrafficFileError(str(exc)) from None
    return read_har(path, hosts)


def cassette_records(cassette: Cassette) -> list[Recorded]:
    """A cassette's exchanges as the kit judges them, each under the path the client asked for."""
    return [
        Recorded(
            at=ex.at,
            method=ex.method,
            url=ex.url,
            request_headers=ex.request.headers,
            body=ex.request.body,
            status=ex.status,
            response_headers=ex.response.headers,
            response_body=ex.response.body,
            local_path=ex.path.split("?", 1)[0],
        )
        for ex in cassette.exchanges
    ]
