"""uvicorn's httptools protocol, sending each answer's head and body in one write.

uvicorn writes an answer's status line and headers as soon as the app starts
the answer, and the body when it comes: two system calls, and on a loopback
connection two wake-ups of the client, for every small JSON answer. Under
load that cost the mock ~9 µs of CPU per request, so the head of an answer
that declares its length is held until the body's first write (or the end of
the answer, for HEAD) and both go out together. Heads without a length (event streams, chunked answers) and
interim answers (``100 Continue``) are written at once, so nothing a client
waits for is ever held back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvicorn writes a head as the status line then lower-cased headers, each after "\r\n".
_FINAL_HEAD = b"HTTP/1.1 "
_LENGTH = b"\r\ncontent-length: "


class JoiningTransport(asyncio.Transport):
    """A transport that holds a length-declaring answer head for the write after it."""

    __slots__ = ("_head", "_inner")

    def __init__(self, inner: asyncio.Transport) -> None:
        super().__init__()
        self._inner = inner
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._inner.writelines((head, data))  # one writev, no copy of a large body
        elif data[:9] == _FINAL_HEAD and data[9:10] != b"1" and _LENGTH in data:
            self._head = bytes(data)
        else:
            self._inner.write(data)

    def flush(self) -> None:
        """Send a held head now: the answer ended without a body write."""
        head = self._head
        if head is not None:
            self._head = None
            self._inner.write(head)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.flush()
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


class JoiningHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`JoiningTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn declares it
        self.joining = JoiningTransport(transport)
        super().connection_made(self.joining)

    def on_response_complete(self) -> None:
        self.joining.flush()  # a HEAD answer, or one whose body was empty, has no write of its own
        super().on_response_complete()
