"""``flux-mock record``: a recording proxy in front of a real service, until interrupted.

The one mode that reaches out over the network: to the upstreams it is given
(and fal's other hosts when the upstream is fal's queue), and to the files
their answers link to.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from uvicorn.config import LOG_LEVELS

from mockserver import __version__
from mockserver.capture.upstream_routes import default_routes, parse_route
from mockserver.cassette.layout import CassetteError
from mockserver.cassette.redaction import Redactor
from mockserver.cassette.writer import CassetteWriter, Upstream
from mockserver.cli.listening import open_listener, run_until_stopped
from mockserver.cli.serve_options import add_state_dir
from mockserver.runtime.run_file import RunInfo, default_state_dir
from mockserver.runtime.server import make_server
from mockserver.spec.hosts import checked_url
from mockserver.spec.loader import default_spec
from mockserver.spec.typed_text import port_number

T = TypeVar("T")
DEFAULT_PORT = 8001  # beside serve's 8000, so a local mock can be the upstream


def _typed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ValueError with its own words."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def add_record_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    record = commands.add_parser(
        "record", help="pass calls to a real service and record them as a cassette",
        description="A proxy: point clients at it, and every call they make is passed to the upstream and "
        "written to the cassette directory as it completes (credentials never written).",
    )
    record.add_argument(
        "--upstream", required=True, type=_typed(checked_url), metavar="URL",
        help="where calls go, e.g. https://queue.fal.run (which also routes fal's run, REST and upload hosts)",
    )
    record.add_argument("--cassette", required=True, type=Path, metavar="DIR", help="the directory to record into")
    record.add_argument(
        "--route", action="append", default=[], type=_typed(parse_route), metavar="PREFIX=URL",
        help="send calls under PREFIX to URL instead, the prefix dropped (repeatable), e.g. /run=https://fal.run",
    )
    record.add_argument(
        "--upstream-ca", type=Path, default=None, metavar="FILE",
        help="also trust this CA bundle for HTTPS upstreams (default: the system's roots only)",
    )
    record.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    record.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="port; 0 picks a free one (default %(default)s)"
    )
    record.add_argument("--tls", action="store_true", help="serve HTTPS with the same local CA as serve --tls")
    record.add_argument(
        "--log-level", default="warning", choices=tuple(LOG_LEVELS), help="uvicorn log level (default %(default)s)"
    )
    add_state_dir(record)


def record(args: argparse.Namespace) -> int:
    from mockserver.capture.proxy_app import RecordingApp, trust  # httpx, loaded only to record

    routes: list[Upstream] = default_routes(args.upstream, default_spec().hosts, args.route)
    # Everything that can fail is tried before the cassette is cleared: a typo must not cost an old recording.
    try:
        trust(args.upstream_ca)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        print(f"flux-mock record: cannot read --upstream-ca {args.upstream_ca}: {exc}", file=sys.stderr)
        return 2
    state_dir = args.state_dir or default_state_dir()
    listener = open_listener("flux-mock record", args.host, args.port, args.tls, state_dir)
    if listener is None:
        return 2
    sock, certs, url = listener.sock, listener.certs, listener.url
    try:
        writer = CassetteWriter(args.cassette, routes, Redactor.for_spec(default_spec()))
    except (CassetteError, OSError) as exc:
        sock.close()
        print(f"flux-mock record: {exc}", file=sys.stderr)
        return 2
    app = RecordingApp(routes, writer, upstream_ca=args.upstream_ca)
    run_info = RunInfo(url=url, pid=os.getpid(), bundle=certs.bundle, api_key=None, ca=certs.ca, upstream=args.upstream)
    banner = [f"flux-mock {__version__} recording to {args.cassette}, listening on {url} (upstream {args.upstream})"]
    banner += [f"  {url}{route.prefix}/... -> {route.url}/..." for route in routes if route.prefix]
    banner += certs.lines()
    server = make_server(app, log_level=args.log_level, ssl_certfile=certs.cert, ssl_keyfile=certs.key)
    return run_until_stopped(server, sock, state_dir, run_info, banner)
