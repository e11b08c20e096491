"""Keep-alive: an idle connection is closed after the timeout, a busy one never is.

The server keeps one keep-alive timer per connection rather than uvicorn's one
per answer (see mockserver.runtime.joining_protocol); each test runs on that
protocol and on uvicorn's own, which must behave alike. The protocols run on a
real socket; the event loop's clock is moved forward by the test instead of
waiting, and timers fire by that clock.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

pytest.importorskip("httptools")

from mockserver.runtime.joining_protocol import JoiningHttpToolsProtocol
from mockserver.runtime.server import bind

TIMEOUT = 5.0
REQUEST = b"GET /%s HTTP/1.1\r\nHost: mock\r\n\r\n"


class ShiftedLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock the test moves forward; its timers fire by that clock."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = 0.0

    def time(self) -> float:
        return super().time() + self.shift

    def move(self, seconds: float) -> None:
        """Move the clock on, then let the loop run what fell due (on its own thread)."""

        def bump() -> None:
            self.shift += seconds

        self.call_soon_threadsafe(bump)
        self.settle()

    def settle(self) -> None:
        # Three turns: the bump, the timers it made due, and the closes those timers asked for.
        done = threading.Event()
        self.call_soon_threadsafe(lambda: self.call_soon(lambda: self.call_soon(lambda: self.call_soon(done.set))))
        assert done.wait(5)


class App:
    """Answers ``{}``; ``/slow`` waits until the test releases it."""

    def __init__(self) -> None:
        self.release: asyncio.Event | None = None
        self.arrived = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            self.release = asyncio.Event()
            self.arrived.set()
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture(params=[JoiningHttpToolsProtocol, "httptools"], ids=["joining", "uvicorn"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[ShiftedLoop, App, int]]:
    loop, app = ShiftedLoop(), App()
    config = uvicorn.Config(
        app, http=request.param, lifespan="off", timeout_keep_alive=int(TIMEOUT), log_level="warning"
    )
    server = uvicorn.Server(config)
    sock = bind("127.0.0.1", 0)
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            threading.Event().wait(0.01)
        yield loop, app, sock.getsockname()[1]
    finally:
        server.should_exit = True
        loop.call_soon_threadsafe(lambda: None)
        thread.join(10)
        loop.close()


def ask(conn: socket.socket, path: str = "") -> bytes:
    conn.sendall(REQUEST % path.encode())
    return answer(conn)


def answer(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"{}"):
        chunk = conn.recv(4096)
        assert chunk, "the connection closed before the answer ended"
        data += chunk
    return data


def closed(conn: socket.socket) -> bool:
    """Whether the server has closed the connection (read without waiting for more than a moment)."""
    conn.settimeout(0.5)
    try:
        return conn.recv(1) == b""
    except TimeoutError:
        return False
    finally:
        conn.settimeout(5)


def connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    return conn


def test_an_idle_connection_closes_after_the_timeout_and_not_before(served: tuple[ShiftedLoop, App, int]) -> None:
    loop, _, port = served
    with connect(port) as conn:
        assert ask(conn).startswith(b"HTTP/1.1 200")
        loop.move(TIMEOUT - 1)
        assert not closed(conn)
        loop.move(2)
        assert closed(conn)


def test_a_connection_in_use_stays_open_past_the_first_timer(served: tuple[ShiftedLoop, App, int]) -> None:
    loop, _, port = served
    with connect(port) as conn:
        for _ in range(4):  # 16 s in all, never idle for 5
            assert ask(conn).startswith(b"HTTP/1.1 200")
            loop.move(TIMEOUT - 1)
        assert not closed(conn)
        loop.move(1.5)  # now idle for 5.5 s since the last answer
        assert closed(conn)


def test_a_request_in_flight_when_the_timer_fires_keeps_its_connection(served: tuple[ShiftedLoop, App, int]) -> None:
    loop, app, port = served
    with connect(port) as conn:
        ask(conn)  # the connection goes idle: its timer is armed
        loop.move(1)
        conn.sendall(REQUEST % b"slow")
        assert app.arrived.wait(5)
        loop.move(TIMEOUT + 3)  # the timer fires while the answer is still being made
        assert not closed(conn)
        release = app.release
        assert release is not None
        loop.call_soon_threadsafe(release.set)
        assert answer(conn).startswith(b"HTTP/1.1 200")
        loop.move(TIMEOUT - 1)  # idle again, counted from this answer
        assert not closed(conn)
        loop.move(2)
        assert closed(conn)
