"""Running the app on uvicorn: bind first, so the real address is known.

The mock serves on uvicorn's fast stack (uvloop's event loop, httptools'
parser) when those packages are installed, as ``uvicorn[standard]`` brings
them; where they are missing (an exotic platform, a trimmed install) it falls
back to asyncio and h11 with the same behaviour, only slower. With httptools
the protocol is :mod:`mockserver.runtime.joining_protocol`'s subclass of
uvicorn's, which sends each answer's head and body in one write; if the
installed uvicorn's protocol no longer has what that subclass relies on, the
server says so in one warning and serves on uvicorn's own protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

log = logging.getLogger("mockserver")


@dataclass(frozen=True)
class Stack:
    loop: str  # "uvloop" or "asyncio"
    http: str  # "httptools" or "h11"

    def __str__(self) -> str:
        return f"{self.loop}+{self.http}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def fast_stack() -> Stack:
    """The fastest loop and HTTP parser this interpreter can import."""
    return Stack(
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
    )


def tune_gc() -> None:
    """Garbage-collector settings for a serving process (not for a test suite's).

    The compiled spec and the stored jobs are long-lived and hold no cycles
    worth collecting, yet the collector rescans them as they grow: with tens
    of thousands of jobs stored, that scanning cost a third of a status poll.
    Freezing moves what exists at start-up out of the collector's sight, and a
    larger young generation lets short-lived request objects die by reference
    counting before any scan.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only disables Nagle (TCP_NODELAY) on sockets that say so,
    # and with Nagle on, every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it, an answer written in two parts
    # waits ~40 ms for the client's delayed ACK (Nagle), on every request.
    if family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _http_protocol(stack: Stack) -> str | type[asyncio.Protocol]:
    if stack.http != "httptools":
        return stack.http
    try:
        from mockserver.runtime import joining_protocol  # imports httptools and uvicorn's protocol
    except ImportError as exc:  # uvicorn moved or renamed its protocol
        problems = [str(exc)]
    else:
        problems = joining_protocol.incompatibilities()
        if not problems:
            return joining_protocol.JoiningHttpToolsProtocol
    log.warning(
        "uvicorn %s: its httptools protocol differs from the one flux-mock was tested with (%s); "
        "serving on uvicorn's own protocol, which writes each answer's head and body separately",
        uvicorn.__version__, "; ".join(problems),
    )
    return stack.http


# After a stop is asked for, connections still open this long are closed under their requests.
DROP_AFTER_SECONDS = 0.5
# Requests still running this long after the stop (one stuck in a thread) are cancelled.
# Whole seconds: uvicorn's option is an int.
CANCEL_AFTER_SECONDS = 2
TICK_SECONDS = 0.1  # uvicorn's: how often its server refreshes the Date header and looks for a stop


class BoundedShutdownServer(uvicorn.Server):
    """uvicorn's server, with a shutdown that no client can hold up.

    uvicorn waits for every open request to end, so one client holding a
    status stream kept the mock running, and a second Ctrl-C cancelled the
    requests mid-flight with a traceback each. Here the app is told first
    (it ends its streams and waits, see ``MockApp.begin_shutdown``), and
    connections still open half a second later are closed, which reads to a
    request as its client leaving. A second signal closes them at once.
    """

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], Awaitable[None]] | None) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    async def main_loop(self) -> None:
        # uvicorn's own loop looks at should_exit every 0.1 s; request_stop wakes this one at once,
        # so a test's server stops as soon as it is told to (the tick still keeps the Date fresh).
        self._woken = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), TICK_SECONDS)
            should_exit = await self.on_tick(counter)

    def request_stop(self) -> None:
        """Begin the shutdown now, from any thread."""
        self.should_exit = True
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: it has stopped already
                loop.call_soon_threadsafe(woken.set)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()  # for a signal that comes before the shutdown starts
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_shutdown is not None:
            await self._on_shutdown()
        if not self.server_state.connections and not self.server_state.tasks:
            # Nothing open to finish: uvicorn's shutdown would still pause 0.1 s for connections to
            # see it, which is most of what stopping a test's server costs.
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            # As uvicorn bounds it: a TLS connection still shaking hands is not in server_state yet.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(server.wait_closed() for server in self.servers)), CANCEL_AFTER_SECONDS
                )
            if not self.force_exit:
                await self.lifespan.shutdown()
            return
        timer = asyncio.get_running_loop().call_later(DROP_AFTER_SECONDS, self.drop_connections)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()

    def drop_connections(self) -> None:
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and not transport.is_closing():
                transport.close()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn's second SIGINT would skip the app's own shutdown and leave its
        # requests to be cancelled noisily; closing their connections ends them quietly.
        if self.should_exit and self._loop is not None:
            self._captured_signals.append(sig)
            self._loop.call_soon_threadsafe(self.drop_connections)
            return
        super().handle_exit(sig, frame)


def make_server(
    app: Starlette | ASGIApp,
    *,
    log_level: str = "warning",
    stack: Stack | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> BoundedShutdownServer:
    """uvicorn on the fastest stack available; HTTPS when given a certificate and key.

    ``on_shutdown`` is awaited first when the server begins to stop.
    """
    chosen = stack or fast_stack()
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", loop=chosen.loop, http=_http_protocol(chosen),
        # No X-Forwarded-* rewriting of the scope's client and scheme: links read those headers
        # themselves (http/urls.py) and nothing reads the client, so the middleware would only
        # add a layer to every request.
        proxy_headers=False,
        # Longer than uvicorn's 5 s, so a busy client's pooled connection is
        # rarely closed under it between two polls.
        timeout_keep_alive=30,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        timeout_graceful_shutdown=CANCEL_AFTER_SECONDS,
    )
    return BoundedShutdownServer(config, on_shutdown)
