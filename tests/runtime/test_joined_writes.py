"""An answer's head and body go out in one write, and no head a client waits for is held."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.testing import MockServer

pytest.importorskip("httptools")

from mockserver.runtime.joined_writes import JoiningTransport

HEAD = b"HTTP/1.1 200 OK\r\nserver: uvicorn\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n"
STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Wire(asyncio.Transport):
    """The socket's side of the transport: each entry is one call, so one system call's buffers."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, ...]] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append((bytes(data),))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.sent.append(tuple(bytes(d) for d in list_of_data))

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def next_turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_a_head_with_a_length_goes_out_with_its_body(loop: asyncio.AbstractEventLoop) -> None:
    wire = Wire()
    joined = JoiningTransport(wire, loop)
    joined.write(HEAD)
    assert wire.sent == [] and joined.get_write_buffer_size() == len(HEAD)
    joined.write(b"{}")
    assert wire.sent == [(HEAD, b"{}")]
    joined.write(b"more")  # later writes of the same answer go straight out
    next_turn(loop)
    assert wire.sent == [(HEAD, b"{}"), (b"more",)]


def test_a_held_head_whose_connection_was_reset_is_dropped_quietly(loop: asyncio.AbstractEventLoop) -> None:
    class Reset(Wire):
        def write(self, data: bytes | bytearray | memoryview) -> None:
            raise RuntimeError("connection reset by peer")

    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    JoiningTransport(Reset(), loop).write(HEAD)
    wire = Wire()
    JoiningTransport(wire, loop).write(HEAD)
    next_turn(loop)
    assert reported == [] and wire.sent == [(HEAD,)]


def test_a_head_waits_one_turn_of_the_loop_at_most(loop: asyncio.AbstractEventLoop) -> None:
    wire = Wire()
    joined = JoiningTransport(wire, loop)
    joined.write(HEAD)
    next_turn(loop)  # the app awaits something before its body: the head must not wait with it
    assert wire.sent == [(HEAD,)]
    joined.write(b"{}")
    assert wire.sent == [(HEAD,), (b"{}",)]


@pytest.mark.parametrize("head", [STREAM_HEAD, CONTINUE], ids=["stream", "100-continue"])
def test_heads_without_a_length_and_interim_answers_go_out_at_once(
    loop: asyncio.AbstractEventLoop, head: bytes
) -> None:
    wire = Wire()
    JoiningTransport(wire, loop).write(head)
    assert wire.sent == [(head,)]


def test_only_an_answers_first_write_is_taken_for_its_head(loop: asyncio.AbstractEventLoop) -> None:
    wire = Wire()
    joined = JoiningTransport(wire, loop)
    joined.write(CONTINUE)  # an interim answer comes before the head, and is not it
    joined.write(HEAD)
    joined.write(b"{")
    joined.write(HEAD)  # a body chunk that looks like a head
    assert wire.sent == [(CONTINUE,), (HEAD, b"{"), (HEAD,)]
    joined.expect_head = True  # the protocol's word that the answer has ended
    joined.write(HEAD)
    joined.write(b"}")
    assert wire.sent[-1] == (HEAD, b"}")


def test_a_held_head_is_sent_by_flush_and_close_and_dropped_by_abort(loop: asyncio.AbstractEventLoop) -> None:
    wire = Wire()
    joined = JoiningTransport(wire, loop)
    joined.write(HEAD)
    joined.flush()
    joined.flush()
    assert wire.sent == [(HEAD,)]
    joined.expect_head = True
    joined.write(HEAD)
    joined.close()
    assert wire.sent == [(HEAD,), (HEAD,)] and wire.closed
    aborted = Wire()
    joined = JoiningTransport(aborted, loop)
    joined.write(HEAD)
    joined.abort()
    next_turn(loop)
    assert aborted.sent == [] and aborted.closed


def _answers(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """Read ``count`` whole answers (head, body) off a keep-alive connection."""
    data = b""
    out: list[tuple[bytes, bytes]] = []
    while len(out) < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(out)} answers"
        data += chunk
        while b"\r\n\r\n" in data and len(out) < count:
            head, rest = data.split(b"\r\n\r\n", 1)
            fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
            size = int(fields[b"content-length"])
            if len(rest) < size:
                break
            out.append((head, rest[:size]))
            data = rest[size:]
    return out


def _connect(server: MockServer) -> socket.socket:
    host, port = server.url.split("://")[1].split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def test_a_head_answer_is_not_held_back(instant: MockServer) -> None:
    # A HEAD answer declares a length but has no body write: the end of the answer must send it.
    with _connect(instant) as sock:
        sock.sendall(b"HEAD /_mock/health HTTP/1.1\r\nhost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "connection closed before the head"
            head += chunk
        assert head.startswith(b"HTTP/1.1 200") and b"\r\ncontent-length: " in head
        assert head.endswith(b"\r\n\r\n")  # and no body after it
        sock.sendall(b"GET /_mock/health HTTP/1.1\r\nhost: x\r\n\r\n")  # the connection goes on
        [(status, body)] = _answers(sock, 1)
        assert status.startswith(b"HTTP/1.1 200") and json.loads(body)


def test_expect_100_continue_is_answered_before_the_body(instant: MockServer) -> None:
    body = json.dumps({"prompt": "a red kite"}).encode()
    with _connect(instant) as sock:
        sock.sendall(
            b"POST /fal-ai/flux-pro/kontext/max/text-to-image HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/json\r\nexpect: 100-continue\r\n"
            b"content-length: %d\r\n\r\n" % len(body)
        )
        interim = sock.recv(4096)  # the server reads the body only after this: a held one would hang
        assert interim == CONTINUE
        sock.sendall(body)
        [(head, answer)] = _answers(sock, 1)
    assert head.startswith(b"HTTP/1.1 200")
    ticket: dict[str, Any] = json.loads(answer)
    assert ticket["status"] == "IN_QUEUE"


def test_pipelined_answers_come_back_whole_and_in_order(instant: MockServer) -> None:
    with _connect(instant) as sock:
        sock.sendall(b"".join(
            b"GET /fal-ai/flux-pro/requests/%d/status HTTP/1.1\r\nhost: x\r\n\r\n" % n for n in range(3)
        ) + b"GET /_mock/health HTTP/1.1\r\nhost: x\r\n\r\n")
        answers = _answers(sock, 4)
    assert [head.split(b" ")[1] for head, _ in answers] == [b"404", b"404", b"404", b"200"]
    assert all(json.loads(body) for _, body in answers)


def _answer_after_the_clients_body(app: ASGIApp) -> ASGIApp:
    """In front of the mock: /held starts its answer, then waits for a body the client sends only on seeing it."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/held":
            await app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        message = await receive()
        await send({"type": "http.response.body", "body": message.get("body", b"")[:2]})

    return wrapped


def test_a_head_is_sent_while_the_app_awaits_before_its_body() -> None:
    with MockServer(time_scale=0, wrap=_answer_after_the_clients_body) as server, _connect(server) as sock:
        sock.sendall(b"POST /held HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:  # times out (and fails) if the head waits for the body
            chunk = sock.recv(4096)
            assert chunk, "connection closed before the head"
            head += chunk
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
        sock.sendall(b"ok")
        assert sock.recv(4096) == b"ok"
