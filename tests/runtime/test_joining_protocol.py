"""The joining protocol fits the installed uvicorn, and a uvicorn it does not fit still serves."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

pytest.importorskip("httptools")

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from mockserver.config import Settings
from mockserver.http.app import create_app
from mockserver.runtime import joining_protocol
from mockserver.runtime.joining_protocol import JoiningHttpToolsProtocol, incompatibilities
from mockserver.runtime.server import bind, make_server, url_of


def test_the_installed_uvicorn_has_what_the_joining_protocol_relies_on() -> None:
    problems = incompatibilities()
    assert not problems, (
        f"uvicorn {uvicorn.__version__} changed its httptools protocol under JoiningHttpToolsProtocol: "
        f"{'; '.join(problems)}. Adapt mockserver/runtime/joining_protocol.py (RELIED_ON too), "
        "or keep uvicorn within the versions pyproject.toml pins."
    )


def uvicorn_protocol_changed(**changes: Any) -> type:
    """A copy of uvicorn's protocol class with methods replaced (or, given None, removed)."""
    namespace = {k: v for k, v in vars(HttpToolsProtocol).items() if k not in ("__dict__", "__weakref__")}
    namespace.update(changes)
    return type("ChangedHttpToolsProtocol", (asyncio.Protocol,), {k: v for k, v in namespace.items() if v is not None})


def _start_with_a_context(self: Any, cycle: Any, app: Any, context: Any) -> None:
    pass


def _counting_more(self: Any) -> None:
    self.server_state.total_requests += 1
    self.server_state.bytes_sent += self.cycle.sent


def _setting_less(self: Any, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
    self.server_state = server_state
    self.loop = _loop


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"_unset_keepalive_if_required": None}, "no method _unset_keepalive_if_required()"),
        ({"_start_asgi_task": _start_with_a_context},
         "_start_asgi_task(cycle, app, context) instead of _start_asgi_task(cycle, app)"),
        ({"on_response_complete": _counting_more}, "on_response_complete() changed (+bytes_sent +cycle +sent"),
        ({"__init__": _setting_less}, "__init__ does not set transport, flow, pipeline, timeout_keep_alive,"),
    ],
    ids=["method gone", "signature", "replaced method does more", "attribute not set"],
)
def test_each_change_the_subclass_would_not_survive_is_reported(changes: dict[str, Any], problem: str) -> None:
    assert incompatibilities(uvicorn_protocol_changed()) == []  # the copy itself fits
    problems = incompatibilities(uvicorn_protocol_changed(**changes))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


@contextmanager
def serving(server: uvicorn.Server) -> Iterator[str]:
    sock = bind("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            threading.Event().wait(0.01)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_uvicorn_that_does_not_fit_gets_its_own_protocol_and_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        joining_protocol, "HttpToolsProtocol", uvicorn_protocol_changed(_unset_keepalive_if_required=None)
    )
    with caplog.at_level(logging.WARNING):
        server = make_server(create_app(Settings(port=0, time_scale=0)))
    assert server.config.http == "httptools"  # uvicorn's stock protocol
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert f"uvicorn {uvicorn.__version__}" in warning and "no method _unset_keepalive_if_required()" in warning
    assert "\n" not in warning
    with serving(server) as base, httpx.Client(base_url=base, timeout=10) as client:
        for n in range(3):  # one kept-alive connection, several answers
            submitted = client.post("/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": f"kite {n}"})
            assert submitted.status_code == 200
            status = client.get(submitted.json()["status_url"])
            assert status.json()["status"] == "COMPLETED"
            assert client.get(submitted.json()["response_url"]).json()["images"]
        head = client.head("/_mock/health")
        assert head.status_code == 200 and head.content == b""
        assert client.get("/_mock/health").status_code == 200


class Recording(asyncio.Transport):
    """Records each write call: one entry per call, with the buffers it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, ...]] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append((bytes(data),))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.sent.append(tuple(bytes(d) for d in list_of_data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def _json_answer(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def test_uvicorns_heads_are_recognised_and_joined_with_their_bodies() -> None:
    # If uvicorn wrote its heads in another shape, answers would still be right, only slower: this says so.
    async def exchange() -> list[tuple[bytes, ...]]:
        config = uvicorn.Config(_json_answer, http=JoiningHttpToolsProtocol, lifespan="off", log_level="warning")
        config.load()
        protocol = JoiningHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
        transport = Recording()
        protocol.connection_made(transport)
        for _ in range(2):
            protocol.data_received(b"GET / HTTP/1.1\r\nhost: mock\r\n\r\n")
            for _ in range(10):  # the app's task runs on the loop's next turns
                await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport.sent

    sent = asyncio.run(exchange())
    assert [len(call) for call in sent] == [2, 2], sent
    assert all(head.startswith(b"HTTP/1.1 200 ") and body == b"{}" for head, body in sent)
