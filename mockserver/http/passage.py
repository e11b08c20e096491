"""One exchange's way through the front: the answer's request id header, and whether it has started.

:class:`~mockserver.http.front.Front` hands the router a passage's
``receive`` and ``send`` instead of the server's. A passage only stamps the
request id on the answer's head and notes that the head went out (after
which an error can no longer be answered); the journal's
:class:`~mockserver.http.recorder.Recording` is a passage that also copies
what goes through it. Both are objects with slots rather than closures made
per request: each message then costs one call, not a wrapper and a callee.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import Message, Receive, Send


class Passage:
    __slots__ = ("_send", "id_header", "id_value", "receive", "started")

    def __init__(self, receive: Receive, send: Send, id_header: bytes | None, id_value: bytes) -> None:
        self.receive = receive  # nothing to copy on the way in: the server's own
        self._send = send
        self.id_header = id_header
        self.id_value = id_value
        self.started = False

    def send(self, message: Message) -> Awaitable[None]:
        # Not a coroutine itself: it hands back the server's, so a message costs no extra frame.
        if message["type"] == "http.response.start":
            self.started = True
            if self.id_header is not None:
                self.stamp(message)
        return self._send(message)

    def stamp(self, message: Message) -> None:
        """Put this exchange's request id on the answer's head, in place of any other."""
        id_header = self.id_header
        headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != id_header]
        headers.append((id_header, self.id_value))
        message["headers"] = headers

    def done(self) -> None:
        """The exchange is over (answered or not)."""
