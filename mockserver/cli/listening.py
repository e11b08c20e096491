"""What ``serve`` and ``record`` share: a socket, certificates, and a server run until it is stopped."""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from mockserver.runtime.run_file import RunInfo, client_url, remove_run_file, write_run_file
from mockserver.runtime.server import bind


@dataclass(frozen=True)
class Certificates:
    """The server's certificate and key, and what clients trust; all None when serving plain HTTP."""

    cert: str | None = None
    key: str | None = None
    bundle: str | None = None
    ca: str | None = None

    def lines(self) -> list[str]:
        """What a person needs to know of them at start-up."""
        return [f"CA bundle: {self.bundle} (eval \"$(flux-mock env)\" to use it)"] if self.bundle else []


@dataclass(frozen=True)
class Listener:
    sock: socket.socket
    certs: Certificates
    url: str  # the address to give clients


def open_listener(command: str, host: str, port: int, tls: bool, state_dir: Path) -> Listener | None:
    """A bound socket and, with ``tls``, the local CA's files in ``state_dir``; None, with the
    reason on stderr, when either cannot be had."""
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"{command}: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return None
    certs = Certificates()
    if tls:
        try:
            from mockserver.runtime.tls import ensure_tls  # cryptography, only when serving TLS

            files = ensure_tls(state_dir)
        except OSError as exc:
            sock.close()
            print(f"{command}: cannot prepare certificates in {state_dir}: {exc}", file=sys.stderr)
            return None
        certs = Certificates(str(files.server_cert), str(files.server_key), str(files.bundle), str(files.ca_cert))
    bound_host, bound_port = sock.getsockname()[:2]
    return Listener(sock, certs, client_url("https" if tls else "http", bound_host, bound_port))


def run_until_stopped(
    server: uvicorn.Server, sock: socket.socket, state_dir: Path, run_info: RunInfo, banner: Iterable[str]
) -> int:
    """Serve on ``sock`` until Ctrl-C or SIGTERM, with the run file (``flux-mock env``) present meanwhile."""
    # uvicorn re-raises SIGTERM after a graceful shutdown (and one may come before it starts);
    # turning it into SystemExit lets the run file go.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        write_run_file(state_dir, run_info)
        for line in banner:
            print(line, flush=True)
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        remove_run_file(state_dir, run_info)
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)
