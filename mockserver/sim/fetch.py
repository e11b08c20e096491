"""Fetching remote input images, only from hosts the user allowed.

By default nothing is fetched: the mock is offline and must not become a relay
to arbitrary hosts. ``--fetch-inputs-from HOST`` opts a host in (e.g. a local
fixture server). Fetches are bounded in size and time, never follow redirects
off the allow-list, and run in worker threads so the event loop never blocks.
Those threads are daemons, and a request waiting for one gives up when the
server stops: a host that never answers cannot hold the mock's exit for the
whole fetch timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mockserver.sim.stopping import Stopping

TIMEOUT_SECONDS = 10.0
# Fetch threads at once, across requests: a host that never answers holds each for the timeout.
MAX_FETCHES = 32
# Counted per event loop, on its own thread (each in-process server has its loop).
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Fetched:
    data: bytes | None
    error: str | None = None


def allowed(url: str, hosts: Iterable[str]) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return any(h == "*" or h == parts.hostname or h == netloc for h in hosts)


class _AllowListRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, hosts: tuple[str, ...]) -> None:
        self._hosts = hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if not allowed(newurl, self._hosts):
            raise urllib.error.HTTPError(newurl, code, "redirect to a host not allowed", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, hosts: tuple[str, ...], max_bytes: int) -> Fetched:
    opener = urllib.request.build_opener(_AllowListRedirects(hosts))
    request = urllib.request.Request(url, headers={"User-Agent": "flux-mock"})
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Fetched(None, f"cannot fetch {url}: {getattr(exc, 'reason', exc)}")
    if len(data) > max_bytes:
        return Fetched(None, f"image exceeds {max_bytes} bytes")
    return Fetched(data)


async def prefetch(
    urls: Iterable[str], hosts: tuple[str, ...], max_bytes: int, stopping: Stopping
) -> dict[str, Fetched]:
    """Fetch every allowed URL once, concurrently; the rest are left out.

    Raises :class:`ServerStopping` if the server begins to stop first.
    """
    wanted = sorted({u for u in urls if allowed(u, hosts)})
    fetches = [_in_daemon_thread(functools.partial(fetch, u, hosts, max_bytes)) for u in wanted]
    results = await stopping.first(asyncio.gather(*fetches))
    return dict(zip(wanted, results, strict=True))


def _in_daemon_thread(work: Callable[[], Fetched]) -> asyncio.Future[Fetched]:
    # Not asyncio.to_thread: the interpreter joins the default executor's threads at exit.
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Fetched] = loop.create_future()
    if _in_flight.get(loop, 0) >= MAX_FETCHES:
        future.set_result(Fetched(None, f"the mock is already fetching {MAX_FETCHES} inputs; try again later"))
        return future
    _in_flight[loop] = _in_flight.get(loop, 0) + 1  # until the thread ends, even if nobody waits any more

    def run() -> None:
        outcome: Fetched | Exception
        try:
            outcome = work()
        except Exception as exc:  # handed to the waiting request, as to_thread would
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, future, outcome)

    threading.Thread(target=run, name="flux-mock fetch", daemon=True).start()
    return future


def _settle(future: asyncio.Future[Fetched], outcome: Fetched | Exception) -> None:
    loop = future.get_loop()
    _in_flight[loop] = _in_flight.get(loop, 1) - 1
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
