"""The server's "stopping" signal, for waits that could outlast a shutdown.

A status stream, a synchronous run of a stuck job or a scenario's long
latency can wait for minutes of the mock's clock. When the server is asked
to stop, those waits end at once, so that a Ctrl-C stops the mock in a
moment instead of after the slowest client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class ServerStopping(Exception):
    """A wait was cut short because the server is stopping."""

    error_type = "server_stopping"  # the error_type of the answer that says so

    def __init__(self) -> None:
        super().__init__("the mock is shutting down")


class Stopping:
    """Set once, from the server's event loop, when the server begins to stop."""

    def __init__(self) -> None:
        self._stopped = False
        self._waiters: set[asyncio.Future[bool]] = set()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def set(self) -> None:
        self._stopped = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(True)

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if the server begins to stop; True when it has."""
        if self._stopped:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        # A timer and a future rather than wait_for: no task per sleep on the stream's poll loop.
        timer = loop.call_later(seconds, _settle, waiter)
        self._waiters.add(waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiters.discard(waiter)

    async def first(self, work: Awaitable[T]) -> T:
        """``work``'s result, unless the server begins to stop first (then :class:`ServerStopping`)."""
        if self._stopped:
            raise ServerStopping
        task = asyncio.ensure_future(work)
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiters.discard(waiter)
            unfinished = not task.done()
            if unfinished:
                task.cancel()
                task.add_done_callback(_retrieve)
        if unfinished:
            raise ServerStopping
        return task.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Abandoned work: its ending is nobody's business, but asyncio warns of an unread one.
    if not task.cancelled():
        task.exception()


def _settle(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
