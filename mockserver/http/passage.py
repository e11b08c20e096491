"""One exchange's way through the front: the answer's request id header, and whether it has started.

:class:`~mockserver.http.front.Front` hands the router a passage's
``receive`` (the server's own) and ``send`` instead of the server's. A
passage only stamps the request id on the answer's head and notes that the
head went out (after which an error can no longer be answered); the
journal's :class:`~mockserver.http.recorder.Recording` is a passage that also
copies the answer.

Nearly every answer is a whole JSON body: :func:`send_json` hands one to the
passage in a single call (:meth:`Passage.send_json`), so that the journal
need not look through two messages to learn what it already knows.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import Message, Receive, Send

Headers = list[tuple[bytes, bytes]]


def send_json(send: Send, status: int, headers: Headers, body: bytes | memoryview) -> Awaitable[None]:
    """Send a whole JSON answer (``headers`` say so, and its length) through ``send``."""
    passage = getattr(send, "__self__", None)
    if isinstance(passage, Passage):
        return passage.send_json(status, headers, body)
    return _two_messages(send, status, headers, body)


async def _two_messages(send: Send, status: int, headers: Headers, body: bytes | memoryview) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Passage:
    __slots__ = ("_send", "id_header", "id_value", "receive", "started")

    def __init__(self, receive: Receive, send: Send, id_header: bytes | None, id_value: bytes) -> None:
        self.receive = receive  # nothing to copy on the way in: the server's own
        self._send = send
        self.id_header = id_header
        self.id_value = id_value
        self.started = False

    def send(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.started = True
            if self.id_header is not None:
                self.stamp(message)
        return self._send(message)

    async def send_json(self, status: int, headers: Headers, body: bytes | memoryview) -> None:
        """A whole JSON answer, as its two messages (see :func:`send_json`)."""
        await self._send(self.head(status, headers))
        await self._send({"type": "http.response.body", "body": body})

    def head(self, status: int, headers: Headers) -> Message:
        """The start message of an answer about to be sent, with this exchange's request id."""
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        self.started = True
        if self.id_header is not None:
            self.stamp(start)
        return start

    def stamp(self, message: Message) -> None:
        """Put this exchange's request id on the answer's head, in place of any other."""
        id_header = self.id_header
        headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != id_header]
        headers.append((id_header, self.id_value))
        message["headers"] = headers

    def keep_id(self, value: bytes) -> None:
        """Stamp ``value`` rather than a new id: a replayed answer keeps the request id it was recorded with."""
        self.id_value = value

    def done(self) -> None:
        """The exchange is over (answered or not)."""
