"""Reading a request body straight from ASGI ``receive``: chunks, limits, disconnects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from mockserver.http.bodies import BODY_READ, read_body, read_json
from mockserver.http.errors import ApiError


def _request(messages: Iterator[Message], headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    async def receive() -> Message:
        try:
            return next(messages)
        except StopIteration:
            raise AssertionError("read past the end of the body") from None

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    return Request(scope, receive)


def _chunks(*parts: bytes) -> Iterator[Message]:
    for n, part in enumerate(parts):
        yield {"type": "http.request", "body": part, "more_body": n < len(parts) - 1}


def test_every_chunk_is_read_and_starlette_finds_the_body_afterwards() -> None:
    request = _request(_chunks(b'{"prompt":', b"", b' "x"}'))
    assert asyncio.run(read_body(request, 100)) == b'{"prompt": "x"}'
    # Reading the spent stream again would fail (see _request); Starlette's readers must not.
    assert asyncio.run(request.body()) == b'{"prompt": "x"}'
    assert asyncio.run(read_body(request, 100)) == b'{"prompt": "x"}'


def test_a_body_over_the_limit_stops_the_read_at_the_chunk_that_crosses_it() -> None:
    def endless() -> Iterator[Message]:
        while True:
            yield {"type": "http.request", "body": b"x" * 40, "more_body": True}

    messages = endless()
    with pytest.raises(ApiError) as raised:
        asyncio.run(read_body(_request(messages), 100))
    assert raised.value.status_code == 413
    assert next(messages)["body"] == b"x" * 40  # the rest was left unread


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request = _request(iter(()), headers=[(b"content-length", b"101")])
    with pytest.raises(ApiError) as raised:
        asyncio.run(read_body(request, 100))
    assert raised.value.status_code == 413


def test_a_client_that_goes_away_mid_body_is_a_disconnect() -> None:
    sent: list[Message] = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    messages = iter(sent)
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(_request(messages), 100))


def test_a_body_in_one_message_is_read_and_kept_for_starlette() -> None:
    request = _request(_chunks(b'{"prompt": "x"}'))
    assert asyncio.run(read_body(request, 100)) == b'{"prompt": "x"}'
    assert asyncio.run(request.body()) == b'{"prompt": "x"}'


def test_a_body_in_one_message_over_the_limit_is_refused_without_a_declared_length() -> None:
    with pytest.raises(ApiError) as raised:
        asyncio.run(read_body(_request(_chunks(b"x" * 101)), 100))
    assert raised.value.status_code == 413
    assert asyncio.run(read_body(_request(_chunks(b"x" * 100)), 100)) == b"x" * 100


def test_a_client_that_goes_away_before_any_body_is_a_disconnect() -> None:
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(_request(iter([{"type": "http.disconnect"}])), 100))


# What was read is left in the scope for the journal (bodies.BODY_READ): all of it, or as far
# as the read got before a refusal or a disconnect; nothing when nothing was read.
@pytest.mark.parametrize(
    ("messages", "headers", "read"),
    [
        (lambda: _chunks(b'{"prompt": "x"}'), [], b'{"prompt": "x"}'),
        (lambda: _chunks(b'{"prompt":', b"", b' "x"}'), [], b'{"prompt": "x"}'),
        (lambda: _chunks(b"x" * 101), [], b"x" * 101),  # refused, but read
        (lambda: _chunks(b"x" * 40, b"x" * 40, b"x" * 40, b"x" * 40), [], b"x" * 120),  # up to the crossing
        (lambda: iter([{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]),
         [], b"{"),
        (lambda: iter([{"type": "http.disconnect"}]), [], b""),
        (lambda: iter(()), [(b"content-length", b"101")], None),  # refused unread
    ],
)
def test_what_was_read_is_left_for_the_journal(
    messages: Callable[[], Iterator[Message]], headers: list[tuple[bytes, bytes]], read: bytes | None
) -> None:
    for reader in (read_body, read_json):
        request = _request(messages(), [*headers, (b"content-type", b"application/json")])
        with contextlib.suppress(ApiError, ClientDisconnect):
            asyncio.run(reader(request, 100))
        assert request.scope.get(BODY_READ) == read
