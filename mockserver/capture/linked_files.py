"""The files answers link to: fetched when the answer arrives, kept in the cassette, served again.

A result's image URL would send the client to the service (or its CDN); the
recorder fetches the file first, writes it beside the exchanges with
:meth:`~mockserver.cassette.writer.CassetteWriter.add_file`, and gives the
client a link to its own copy at the URL's path. A file that cannot be
fetched keeps its link; the client then sees what it would have seen anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

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

    def get(self, path: str) -> KeptFile | None:
        return self._kept.get(path)

    def sources(self) -> Mapping[str, str]:
        """Each kept file's local path and the URL it came from."""
        return {path: kept.source for path, kept in self._kept.items()}

    async def keep(self, client: httpx.AsyncClient, wanted: Mapping[str, str]) -> set[str]:
        """Fetch each file (URL to local path) not kept yet, together; the URLs now served locally."""
        results = await asyncio.gather(*(self._keep_one(client, url, path) for url, path in wanted.items()))
        return {url for url, ok in zip(wanted, results, strict=True) if ok}

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
