"""``flux-mock serve``: the mock on a socket until interrupted."""

from __future__ import annotations

import argparse
import os
import sys

from mockserver import __version__
from mockserver.cli.listening import open_listener, run_until_stopped
from mockserver.cli.serve_options import settings_from
from mockserver.http.app import create_app
from mockserver.http.routes.dashboard import dashboard_path
from mockserver.runtime.run_file import RunInfo, default_state_dir
from mockserver.runtime.server import fast_stack, make_server, tune_gc
from mockserver.spec.documents import SpecError


def serve(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        app = create_app(settings)
    except (SpecError, ValueError) as exc:
        print(f"flux-mock: {exc}", file=sys.stderr)
        return 2
    state_dir = args.state_dir or default_state_dir()
    listener = open_listener("flux-mock", settings.host, settings.port, args.tls, state_dir)
    if listener is None:
        return 2
    sock, certs, url = listener.sock, listener.certs, listener.url
    run_info = RunInfo(url=url, pid=os.getpid(), bundle=certs.bundle, api_key=settings.api_key, ca=certs.ca)
    banner = [f"flux-mock {__version__} listening on {url} ({fast_stack()})", *certs.lines(),
              f"dashboard: {url}{dashboard_path(app.state.ctx.spec)}"]
    if settings.replay_dir is not None:
        misses = "simulated" if settings.replay_miss == "simulate" else "answered 404"
        banner.append(f"replaying {settings.replay_dir}; requests it lacks are {misses}")
    tune_gc()
    server = make_server(
        app, log_level=args.log_level, ssl_certfile=certs.cert, ssl_keyfile=certs.key, on_shutdown=app.begin_shutdown
    )
    return run_until_stopped(server, sock, state_dir, run_info, banner)
