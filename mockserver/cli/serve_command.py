"""``flux-mock serve``: the mock on a socket until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from mockserver import __version__
from mockserver.cli.serve_options import settings_from
from mockserver.http.app import create_app
from mockserver.http.routes.dashboard import dashboard_path
from mockserver.runtime.run_file import (
    RunInfo,
    client_url,
    default_state_dir,
    remove_run_file,
    write_run_file,
)
from mockserver.runtime.server import bind, fast_stack, make_server, tune_gc
from mockserver.spec.documents import SpecError


def serve(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        app = create_app(settings)
    except (SpecError, ValueError) as exc:
        print(f"flux-mock: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        print(f"flux-mock: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 2
    state_dir = args.state_dir or default_state_dir()
    cert: str | None = None
    key: str | None = None
    bundle: str | None = None
    ca: str | None = None
    if args.tls:
        try:
            from mockserver.runtime.tls import ensure_tls  # cryptography, only when serving TLS

            files = ensure_tls(state_dir)
        except OSError as exc:
            print(f"flux-mock: cannot prepare certificates in {state_dir}: {exc}", file=sys.stderr)
            return 2
        cert, key = str(files.server_cert), str(files.server_key)
        bundle, ca = str(files.bundle), str(files.ca_cert)
    host, port = sock.getsockname()[:2]
    url = client_url("https" if args.tls else "http", host, port)
    run_info = RunInfo(url=url, pid=os.getpid(), bundle=bundle, api_key=settings.api_key, ca=ca)
    # uvicorn re-raises SIGTERM after a graceful shutdown (and one may come before it starts);
    # turning it into SystemExit lets the run file go.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        write_run_file(state_dir, run_info)
        print(f"flux-mock {__version__} listening on {url} ({fast_stack()})", flush=True)
        if bundle:
            print(f"CA bundle: {bundle} (eval \"$(flux-mock env)\" to use it)", flush=True)
        print(f"dashboard: {url}{dashboard_path(app.state.ctx.spec)}", flush=True)
        if settings.replay_dir is not None:
            misses = "simulated" if settings.replay_miss == "simulate" else "answered 404"
            print(f"replaying {settings.replay_dir}; requests it lacks are {misses}", flush=True)
        tune_gc()
        server = make_server(
            app, log_level=args.log_level, ssl_certfile=cert, ssl_keyfile=key, on_shutdown=app.begin_shutdown
        )
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        remove_run_file(state_dir, run_info)
    return 0



def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)
