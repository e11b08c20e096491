"""A transport that sends each answer's head and body in one write.

uvicorn writes an answer's status line and headers as soon as the app starts
the answer, and the body when it comes: two system calls, and on a loopback
connection two wake-ups of the client, for every small JSON answer. Under
load that was a large part of the mock's CPU per request. So the head that starts an
answer, when it declares a length, is held for the body's first write and
both go out together (one ``writev`` on uvloop; over TLS, one socket write of
two records).

A head is held for one turn of the event loop at most: an app that awaits
something between starting an answer and sending its body (a client's
``Expect: 100-continue`` body, a slow file) has its head sent when the loop
next runs, as stock uvicorn would have sent it. Heads without a length (event
streams, chunked answers) and interim answers (``100 Continue``) are written
at once, and only the first write of an answer is taken for its head, so a
body that merely looks like one is never held.

Nothing here knows uvicorn beyond the shape of the heads it writes; the
protocol that puts a connection's transport in a :class:`JoiningTransport`
is in :mod:`mockserver.runtime.joining_protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

# uvicorn writes a head as the status line then lower-cased headers, each after "\r\n".
_FINAL_HEAD = b"HTTP/1.1 "
_LENGTH = b"\r\ncontent-length: "


class JoiningTransport(asyncio.Transport):
    """A transport that holds a length-declaring answer head for the write after it."""

    __slots__ = ("_head", "_inner", "_loop", "expect_head")

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._inner = inner
        self._loop = loop
        self._head: bytes | None = None
        # True until an answer's head is written; the protocol sets it again when the answer ends.
        self.expect_head = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._inner.writelines((head, data))
        elif self.expect_head and data[:9] == _FINAL_HEAD and data[9:10] != b"1":
            self.expect_head = False
            if _LENGTH in data:
                self._head = bytes(data)
                self._loop.call_soon(self._flush_late)  # the body normally comes first, in this turn
            else:
                self._inner.write(data)
        else:
            self._inner.write(data)

    def flush(self) -> None:
        """Send a held head now (the body did not follow in the same turn, or there is none)."""
        head = self._head
        if head is not None:
            self._head = None
            self._inner.write(head)

    def _flush_late(self) -> None:
        # Run by the loop, where nothing would catch a write to a connection that was reset meanwhile.
        with contextlib.suppress(Exception):
            self.flush()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._inner.writelines((head, *list_of_data))
        else:
            self._inner.writelines(list_of_data)

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def abort(self) -> None:
        self._head = None
        self._inner.abort()

    def write_eof(self) -> None:
        self.flush()
        self._inner.write_eof()

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + len(self._head or b"")

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._inner.get_write_buffer_limits()
