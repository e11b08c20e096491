"""The ``flux-mock`` command: one module per subcommand, parsed here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mockserver import __version__
from mockserver.cli.env_command import add_env_parser, env
from mockserver.cli.judging import add_check_parser, add_conformance_parser, check, conformance
from mockserver.cli.record_command import add_record_parser, record
from mockserver.cli.serve_command import serve
from mockserver.cli.serve_options import add_serve_options, settings_from

__all__ = ["build_parser", "main", "settings_from"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flux-mock", description="Local mock of the FLUX.1 Kontext image APIs.")
    parser.add_argument("--version", action="version", version=f"flux-mock {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the mock (the default command)")
    add_serve_options(serve)
    add_check_parser(commands)
    add_conformance_parser(commands)
    add_env_parser(commands)
    add_record_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if not raw or (raw[0].startswith("-") and raw[0] not in ("-h", "--help", "--version")):
        raw.insert(0, "serve")  # `flux-mock --port 9000` means serve
    parser = build_parser()
    args = parser.parse_args(raw)
    if args.command == "serve":
        return serve(args)
    if args.command == "check":
        return check(args)
    if args.command == "conformance":
        return conformance(args)
    if args.command == "env":
        return env(args)
    if args.command == "record":
        return record(args)
    parser.print_help()
    return 2
