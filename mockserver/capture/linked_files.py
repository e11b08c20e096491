"""The files answers link to: fetched when the answer arrives, kept in the cassette, served again.

A result's image URL would send the client to the service (or its CDN); the
recorder fetches the file first, writes it beside the exchanges with
:meth:`~mockserver.cassette.writer.CassetteWriter.add_file`, and gives the
client a link to its own copy at the URL's path. Two hosts may hold files at
one path (two CDNs' ``/img/a.png``): the second source, and any after it, is
kept under its host's name (``/cdn2.example/img/a.png``), so each has its own
copy and its own link. A file that cannot be fetched keeps its link; the client
then sees what it would have seen anyway.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio.to_thread
import httpx

from mockserver.cassette.writer import CassetteWriter

log = logging.getLogger("mockserver.capture")

MAX_FILE_BYTES = 512 * 1024 * 1024  # past this a file keeps its link rather than fill memory
_DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class KeptFile:
    source: str  # the URL it was fetched from
    data: bytes
    content_type: str


class LinkedFiles:
    def __init__(self, writer: CassetteWriter) -> None:
        self._writer = writer
        self._kept: dict[str, KeptFile] = {}  # by the path the recorder serves it at
        self._pending: dict[str, asyncio.Future[bool]] = {}
        self._places: dict[str, str] = {}  # source URL -> the local path it was given
        self._claimed: dict[str, str] = {}  # local path -> the source URL that holds it

    def get(self, path: str) -> KeptFile | None:
        return self._kept.get(path)

    def sources(self) -> Mapping[str, str]:
        """Each kept file's local path and the URL it came from."""
        return {path: kept.source for path, kept in self._kept.items()}

    async def keep(self, client: httpx.AsyncClient, wanted: Mapping[str, str]) -> dict[str, str]:
        """Fetch each file (URL to the local path it would like) not kept yet, together; the URLs
        now served locally, each with the local path it is served at."""
        # Places are given before any fetch starts, in the order the links came: the same every run.
        places = {url: self._place(url, path) for url, path in wanted.items()}
        results = await asyncio.gather(*(self._keep_one(client, url, path) for url, path in places.items()))
        return {url: path for (url, path), ok in zip(places.items(), results, strict=True) if ok}

    def _place(self, url: str, path: str) -> str:
        """The local path for ``url``: the one it asks for unless another source holds it."""
        place = self._places.get(url)
        if place is None:
            place = next(p for p in _candidates(url, path) if p not in self._claimed)
            self._places[url], self._claimed[place] = place, url
        return place

    async def _keep_one(self, client: httpx.AsyncClient, url: str, path: str) -> bool:
        if path in self._kept:
            return True
        pending = self._pending.get(path)
        if pending is not None:  # another answer linked the same file a moment ago
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[path] = future
        try:
            kept = await _fetch(client, url)
            if kept is not None:
                await anyio.to_thread.run_sync(self._writer.add_file, path, url, kept.data, kept.content_type)
                self._kept[path] = kept
            future.set_result(kept is not None)
            return kept is not None
        except BaseException:
            future.set_result(False)
            raise
        finally:
            del self._pending[path]


def _candidates(url: str, path: str) -> Iterator[str]:
    """``path``, then the same under the URL's host (and port), then numbered: the first free one is used."""
    parts = urlsplit(url)
    host = (parts.hostname or "file") + (f":{parts.port}" if parts.port else "")
    yield path
    yield f"/{host}{path}"
    for n in itertools.count(2):
        yield f"/{host}/{n}{path}"


async def _fetch(client: httpx.AsyncClient, url: str) -> KeptFile | None:
    try:
        async with client.stream("GET", url) as answer:
            if answer.status_code != 200:
                log.warning("not keeping %s: the answer was %s", url, answer.status_code)
                return None
            chunks, size = [], 0
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    log.warning("not keeping %s: larger than %d bytes", url, MAX_FILE_BYTES)
                    return None
                chunks.append(chunk)
            media = answer.headers.get("content-type", _DEFAULT_TYPE)
            return KeptFile(url, b"".join(chunks), media)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        log.warning("not keeping %s: %s", url, exc)
        return None
