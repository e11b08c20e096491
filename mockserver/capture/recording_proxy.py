"""The recorder on a free port in a background thread, for test suites (and scripts that record).

    with MockServer(time_scale=0) as mock, RecordingProxy(upstream=mock.url, cassette=tmp_path / "c") as rec:
        httpx.post(f"{rec.url}/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "a cat"})
    read_cassette(tmp_path / "c")

Like ``MockServer`` it speaks HTTPS when given ``tls_state_dir`` (clients
trust ``tls.bundle``); ``upstream_ca`` trusts an upstream's own CA.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx

from mockserver.capture.proxy_app import DEFAULT_TIMEOUT, RecordingApp
from mockserver.capture.upstream_routes import default_routes
from mockserver.cassette.redaction import Redactor
from mockserver.cassette.writer import CassetteWriter, Upstream
from mockserver.runtime.run_file import RunInfo
from mockserver.runtime.server import bind, make_server, url_of
from mockserver.runtime.tls import TlsFiles, ensure_tls
from mockserver.spec.hosts import checked_prefix, checked_url
from mockserver.spec.loader import default_spec

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


def routes_from(upstream: str, routes: Mapping[str, str] | Iterable[Upstream] | None) -> list[Upstream]:
    """The route table: ``upstream`` for everything, ``routes`` (``{"/run": "https://..."}``) on top."""
    if routes is None:
        extra: list[Upstream] = []
    elif isinstance(routes, Mapping):
        extra = [Upstream(checked_prefix(prefix), checked_url(url)) for prefix, url in routes.items()]
    else:
        extra = list(routes)
    return default_routes(upstream, default_spec().hosts, extra)


class RecordingProxy:
    """Records every call made through ``url`` into the cassette directory ``cassette``."""

    def __init__(
        self,
        *,
        upstream: str,
        cassette: Path | str,
        routes: Mapping[str, str] | Iterable[Upstream] | None = None,
        upstream_ca: Path | str | None = None,
        tls_state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        redactor: Redactor | None = None,
    ) -> None:
        self.upstream = checked_url(upstream)
        self.routes = routes_from(self.upstream, routes)
        self.cassette = Path(cassette)
        self.host, self.port = host, port
        # CassetteError when the directory may not be recorded into.
        self.writer = CassetteWriter(self.cassette, self.routes, redactor or Redactor.for_spec(default_spec()))
        self.app = RecordingApp(
            self.routes, self.writer, upstream_ca=upstream_ca, timeout=timeout, clock=clock or time.monotonic
        )
        self.tls: TlsFiles | None = ensure_tls(tls_state_dir) if tls_state_dir is not None else None
        self._server = make_server(
            self.app,
            ssl_certfile=str(self.tls.server_cert) if self.tls else None,
            ssl_keyfile=str(self.tls.server_key) if self.tls else None,
        )
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> RecordingProxy:
        sock = bind(self.host, self.port)  # OSError when the port is taken
        self.url = url_of(sock, "https" if self.tls else "http")
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        ready = threading.Event()
        for _ in range(int(START_TIMEOUT_SECONDS / 0.01)):
            if self._server.started or not self._thread.is_alive():
                break
            ready.wait(0.01)
        if not self._server.started:
            raise RuntimeError("the recorder did not start")
        return self

    def run_info(self) -> RunInfo:
        """Where the recorder listens, for ``flux-mock env``: clients keep their own keys."""
        tls = self.tls
        return RunInfo(
            url=self.url, pid=os.getpid(), bundle=str(tls.bundle) if tls else None, api_key=None,
            ca=str(tls.ca_cert) if tls else None, upstream=self.upstream,
        )

    def stop(self) -> None:
        self._server.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
