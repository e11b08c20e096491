"""Helpers for test suites: a real mock server on a free port, in-process.

    with MockServer(time_scale=0) as mock:
        httpx.post(f"{mock.url}/fal-ai/flux-pro/kontext/max/text-to-image", json={...})

Pass a :class:`~mockserver.sim.clock.ManualClock` as ``clock`` to move time by hand.

This module is the package's public surface for test code: besides the server
it re-exports what a test suite or a contract kit reads (the loaded spec and
its typed parts, journal entries, the client-check helpers); everything else
in ``mockserver`` may change without notice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp

from mockserver.capture.recording_proxy import RecordingProxy
from mockserver.config import Settings
from mockserver.http.app import create_app
from mockserver.http.context import AppContext
from mockserver.http.routes.dashboard import dashboard_path
from mockserver.kit.client_check import format_report, read_all, summarize
from mockserver.kit.journal import ERROR, INFO, WARNING, Entry, Violation
from mockserver.kit.recordings import read_recording
from mockserver.kit.traffic_file import Recorded, TrafficFileError, read_har
from mockserver.runtime.run_file import RunInfo, client_environment, fal_urls
from mockserver.runtime.server import bind, make_server, url_of
from mockserver.runtime.tls import TlsFiles, ensure_tls
from mockserver.sim.clock import Clock, ManualClock, SystemClock
from mockserver.spec.contract import QueueContract
from mockserver.spec.documents import NamedModel, Operation, SpecDocument, SpecError
from mockserver.spec.loader import Spec
from mockserver.spec.model_info import ModelInfo
from mockserver.spec.roles import Role
from mockserver.spec.yaml_files import read_yaml

__all__ = [
    "ERROR",
    "INFO",
    "WARNING",
    "Entry",
    "ManualClock",
    "MockServer",
    "ModelInfo",
    "NamedModel",
    "Operation",
    "QueueContract",
    "Recorded",
    "RecordingProxy",
    "Role",
    "Settings",
    "Spec",
    "SpecDocument",
    "SpecError",
    "TrafficFileError",
    "Violation",
    "client_environment",
    "format_report",
    "point_fal_client",
    "read_all",
    "read_har",
    "read_recording",
    "read_yaml",
    "summarize",
]

# fal-client's module globals for its four hosts, and the cached per-client
# objects that copy one of them when first used.
_FAL_URL_GLOBALS = ("QUEUE_URL_FORMAT", "RUN_URL_FORMAT", "REST_URL", "CDN_URL")
_FAL_CACHED = ("_token_manager", "_auth")
STOP_TIMEOUT_SECONDS = 10.0


class MockServer:
    """Starts the mock in a background thread; ``url`` is its base URL."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        wrap: Callable[[ASGIApp], ASGIApp] | None = None,
        tls_state_dir: Path | None = None,
        replay: Path | str | None = None,
        **options: Any,
    ) -> None:
        base = settings or Settings(port=0)
        if replay is not None:  # a cassette to answer from (Settings.replay_dir)
            options["replay_dir"] = Path(replay)
        self.settings = replace(base, **options)
        self.clock = clock or SystemClock()
        self.app = create_app(self.settings, clock=self.clock)
        self.url = ""
        # With a state directory the server speaks HTTPS; trust ``tls.bundle`` (or ``tls.ca_cert``) in clients.
        self.tls: TlsFiles | None = ensure_tls(tls_state_dir) if tls_state_dir is not None else None
        # ``wrap`` puts ASGI middleware in front of the mock, e.g. one that corrupts answers on purpose.
        self._server = make_server(
            wrap(self.app) if wrap else self.app,
            ssl_certfile=str(self.tls.server_cert) if self.tls else None,
            ssl_keyfile=str(self.tls.server_key) if self.tls else None,
            on_shutdown=self.app.begin_shutdown,
        )
        self._thread: threading.Thread | None = None

    @property
    def test_id_header(self) -> str:
        """The request header that scopes journal entries and scenario rules to one test."""
        return self.context.spec.test_id_header

    @property
    def ui_url(self) -> str:
        """The dashboard's address: jobs, images, the journal and the rules, live in a browser."""
        return self.url + dashboard_path(self.context.spec)

    @property
    def context(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx

    def start(self) -> MockServer:
        sock = bind(self.settings.host, self.settings.port)
        self.url = url_of(sock, "https" if self.tls else "http")
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        if not _wait(lambda: self._server.started or not self._thread_alive(), 10.0) or not self._server.started:
            raise RuntimeError("mock server did not start")
        return self

    def run_info(self) -> RunInfo:
        """Where this server listens and what to trust, as ``serve`` records it for ``flux-mock env``."""
        tls = self.tls
        return RunInfo(
            url=self.url,
            pid=os.getpid(),
            bundle=str(tls.bundle) if tls else None,
            api_key=self.settings.api_key,
            ca=str(tls.ca_cert) if tls else None,
        )

    def stop(self) -> None:
        self._server.request_stop()
        if self._thread is not None:
            # The server closes connections still open after a moment (runtime/server.py).
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():  # a request stuck past every grace: stop waiting for it
                self._server.force_exit = True
                self._thread.join(timeout=STOP_TIMEOUT_SECONDS)

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait(condition: Any, timeout: float) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        event.wait(0.01)
    return bool(condition())


@contextmanager
def point_fal_client(url: str, *, key: str = "flux-mock") -> Iterator[None]:
    """Send every ``fal-client`` call to the mock at ``url``, restoring the real hosts afterwards.

    Covers the queue and run hosts and the two that ``FAL_RUN_HOST`` cannot
    reach: the REST host (upload tokens) and the CDN (uploads). Works over
    plain HTTP, so tests need no certificates. When no fal credentials are
    set, ``key`` serves as ``FAL_KEY`` meanwhile (the mock accepts any key
    unless it was started with one)::

        with MockServer(time_scale=0) as mock, point_fal_client(mock.url):
            image_url = fal_client.upload_file("cat.png")
    """
    import fal_client  # a test dependency, imported only when used
    import fal_client.client as fal_module

    urls = fal_urls(url)
    values = {"QUEUE_URL_FORMAT": urls.queue, "RUN_URL_FORMAT": urls.run, "REST_URL": urls.rest, "CDN_URL": urls.cdn}
    saved = {name: getattr(fal_module, name) for name in _FAL_URL_GLOBALS}
    lend_key = not (os.environ.get("FAL_KEY") or os.environ.get("FAL_KEY_ID"))

    def reset() -> None:
        # The default clients cache their credentials, an HTTP client built with them, and an
        # upload token manager holding the REST URL it first saw: drop them so the next call
        # rebuilds them, and close pooled connections (a stopping server waits for them).
        for client in (fal_client.sync_client, fal_client.async_client):
            cached = vars(client)
            pooled = cached.pop("_client", None)
            if isinstance(pooled, httpx.Client):
                pooled.close()
            for name in _FAL_CACHED:
                cached.pop(name, None)

    for name, value in values.items():
        setattr(fal_module, name, value)
    if lend_key:
        os.environ["FAL_KEY"] = key
    reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(fal_module, name, value)
        if lend_key:
            os.environ.pop("FAL_KEY", None)
        reset()
