"""The ``flux-mock`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mockserver import __version__
from mockserver.config import MB, Settings
from mockserver.http.app import create_app
from mockserver.server import bind, fast_stack, make_server, tune_gc, url_of
from mockserver.spec import SpecError


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flux-mock", description="Local mock of the FLUX.1 Kontext image APIs.")
    parser.add_argument("--version", action="version", version=f"flux-mock {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the mock (the default command)")
    add_serve_options(serve)
    return parser


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.add_argument("--host", default=defaults.host, help="address to listen on (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=defaults.port, help="port; 0 picks a free one (default %(default)s)"
    )
    parser.add_argument(
        "--time-scale", type=_positive_float, default=defaults.time_scale,
        help="multiply simulated durations; 0 completes jobs at once (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=defaults.concurrency,
        help="simulated model workers; more jobs wait in the queue (default %(default)s)",
    )
    parser.add_argument("--api-key", default=None, help="require this key (Key or Bearer); default: accept any")
    parser.add_argument(
        "--retention", type=_positive_float, default=defaults.retention_seconds,
        help="seconds a finished request and its files are kept (default %(default)s)",
    )
    parser.add_argument(
        "--max-jobs", type=int, default=defaults.max_jobs,
        help="requests kept at most; the oldest finished go first (default %(default)s)",
    )
    parser.add_argument(
        "--max-body-mb", type=_positive_float, default=defaults.max_body_bytes / MB,
        help="largest request body accepted, in MiB; larger gets 413 (default %(default)g)",
    )
    parser.add_argument(
        "--max-files-mb", type=_positive_float, default=defaults.max_file_bytes / MB,
        help="memory for generated images, in MiB; the oldest go first (default %(default)g)",
    )
    parser.add_argument(
        "--spec", action="append", type=Path, help="OpenAPI file to serve (repeatable); default: specs/"
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default %(default)s)")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        concurrency=args.concurrency,
        api_key=args.api_key,
        retention_seconds=args.retention,
        max_jobs=args.max_jobs,
        max_body_bytes=int(args.max_body_mb * MB),
        max_file_bytes=int(args.max_files_mb * MB),
        spec_paths=tuple(args.spec) if args.spec else None,
    )


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
    print(f"flux-mock {__version__} listening on {url_of(sock)} ({fast_stack()})", flush=True)
    tune_gc()
    make_server(app, log_level=args.log_level).run(sockets=[sock])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if not raw or (raw[0].startswith("-") and raw[0] not in ("-h", "--help", "--version")):
        raw.insert(0, "serve")  # `flux-mock --port 9000` means serve
    parser = build_parser()
    args = parser.parse_args(raw)
    if args.command == "serve":
        return serve(args)
    parser.print_help()
    return 2
