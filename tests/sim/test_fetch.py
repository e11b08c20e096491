"""Remote inputs: never fetched unless the host is allowed, and then bounded."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mockserver.testing import MockServer
from tests.helpers import EDIT, data_uri, decode, share_of_colour

PICTURE = base64.b64decode(data_uri((800, 600), (255, 0, 255)).split(",", 1)[1])


class ImageHost:
    """A real HTTP server on loopback that counts the requests it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.hits.append(self.path)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://192.0.2.1/elsewhere.png")
                    self.end_headers()
                    return
                body = PICTURE if self.path == "/cat.png" else b"x" * 5000
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.server.shutdown()


def _run(mock: MockServer, url: str) -> httpx.Response:
    return httpx.post(f"{mock.url}/run/{EDIT}", json={"prompt": "p", "image_url": url, "seed": 1}, timeout=30)


def test_nothing_is_fetched_by_default(image_host: ImageHost) -> None:
    with MockServer(time_scale=0) as mock:
        response = _run(mock, image_host.url("/cat.png"))
        assert response.status_code == 200
        assert image_host.hits == []
        # the input's shape is unknown, so the output is square
        assert response.json()["images"][0]["width"] == 1024


def test_an_allowed_host_is_fetched_and_its_image_used(image_host: ImageHost) -> None:
    with MockServer(time_scale=0, fetch_hosts=(image_host.netloc,), concurrency=1) as mock:
        image = _run(mock, image_host.url("/cat.png")).json()["images"][0]
        assert image_host.hits == ["/cat.png"]
        assert (image["width"], image["height"]) == (1184, 880)  # 800x600 is 4:3
        picture = decode(httpx.get(image["url"]).content)
        assert share_of_colour(picture, (255, 0, 255)) > 0.03


def test_other_hosts_stay_unfetched_with_an_allow_list(image_host: ImageHost) -> None:
    with MockServer(time_scale=0, fetch_hosts=("127.0.0.1:1",)) as mock:
        assert _run(mock, image_host.url("/cat.png")).status_code == 200
        assert image_host.hits == []


@pytest.mark.parametrize(("path", "reason"), [("/redirect", "not allowed"), ("/big.png", "exceeds")])
def test_fetches_are_bounded(image_host: ImageHost, path: str, reason: str) -> None:
    with MockServer(time_scale=0, fetch_hosts=(image_host.netloc,), max_input_bytes=1000) as mock:
        response = _run(mock, image_host.url(path))
        assert response.status_code == 422
        assert reason in response.json()["detail"][0]["msg"]
        assert response.json()["detail"][0]["loc"] == ["body", "image_url"]


def test_fetch_threads_are_capped_per_server() -> None:
    import asyncio
    import socket

    from mockserver.sim import fetch
    from mockserver.sim.stopping import Stopping

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        urls = [f"http://{host}/{n}.png" for n in range(fetch.MAX_FETCHES + 1)]

        async def one_too_many() -> tuple[list[object], fetch.Fetched]:
            stopping = Stopping()
            waiting = [asyncio.ensure_future(fetch.prefetch([u], (host,), 1000, stopping)) for u in urls[:-1]]
            await asyncio.sleep(0.2)  # every thread has started and hangs on the silent host
            refused = (await fetch.prefetch([urls[-1]], (host,), 1000, stopping))[urls[-1]]
            stopping.set()  # let the waiters go; their threads end with the host's socket
            return await asyncio.gather(*waiting, return_exceptions=True), refused

        waited, refused = asyncio.run(one_too_many())
    assert refused.error is not None and "already fetching" in refused.error
    assert all(type(w).__name__ == "ServerStopping" for w in waited)
