from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest

from mockserver.config import Settings
from mockserver.http.app import create_app
from mockserver.runtime.server import Stack, bind, fast_stack, make_server, url_of


def test_fast_stack_is_chosen_when_installed() -> None:
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    assert fast_stack() == Stack("uvloop", "httptools")
    from mockserver.runtime.joining_protocol import JoiningHttpToolsProtocol

    server = make_server(create_app(Settings(port=0)))
    assert (server.config.loop, server.config.http) == ("uvloop", JoiningHttpToolsProtocol)


def test_missing_packages_fall_back_to_asyncio_and_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    import mockserver.runtime.server as server_module

    monkeypatch.setattr(server_module, "_installed", lambda name: False)
    assert fast_stack() == Stack("asyncio", "h11")


@pytest.mark.parametrize(
    "stack", [Stack("asyncio", "h11"), Stack("asyncio", "httptools"), Stack("uvloop", "httptools")], ids=str
)
def test_each_stack_serves_the_api(stack: Stack) -> None:
    for module in (stack.loop, stack.http):
        if module != "asyncio":
            pytest.importorskip(module)
    server = make_server(create_app(Settings(port=0, time_scale=0)), stack=stack)
    sock = bind("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        base = url_of(sock)
        submitted = httpx.post(f"{base}/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "x"})
        assert submitted.status_code == 200
        status = httpx.get(submitted.json()["status_url"])
        assert status.json()["status"] == "COMPLETED"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_serving_without_webhooks_or_tls_loads_neither_httpx_nor_cryptography() -> None:
    # Together they are ~12 MB of a serving process; they load when a webhook, the JWKS or TLS needs them.
    probe = (
        "import sys\n"
        "from mockserver.cli import main\n"
        "from mockserver.http.app import create_app\n"
        "create_app()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'cryptography'}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
