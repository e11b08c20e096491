"""``flux-mock check`` and ``flux-mock conformance``: judging a client or a server, live or from a recording."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from mockserver.cli.serve_options import add_serve_options, settings_from
from mockserver.config import Settings
from mockserver.runtime.run_file import (
    default_state_dir,
)
from mockserver.spec.typed_text import non_negative_float


def add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check", help="run a client command against a fresh mock and report its contract violations",
        usage="flux-mock check [options] -- CMD [ARGS ...]  |  flux-mock check --har FILE | --cassette DIR [options]",
    )
    add_serve_options(check)
    check.set_defaults(port=0)
    check.add_argument(
        "--min-poll-interval", type=non_negative_float, default=Settings().min_poll_interval,
        help="status polls closer together than this many seconds are violations (default %(default)s)",
    )
    check.add_argument(
        "--strict", action="store_true", help="fail on warnings too (by default only errors fail the check)"
    )
    recorded = check.add_mutually_exclusive_group()
    recorded.add_argument(
        "--har", default=None, metavar="FILE", help="judge the client traffic recorded in this HAR file instead"
    )
    recorded.add_argument(
        "--cassette", default=None, metavar="DIR", help="judge the client traffic in this cassette instead"
    )
    check.add_argument("cmd", nargs=argparse.REMAINDER, help="the client command, after --")


def add_conformance_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conf = commands.add_parser("conformance", help="check a server against the spec (runs the contract_tests suite)")
    where = conf.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", help="base URL of the server under test")
    where.add_argument("--har", metavar="FILE", help="check the answers recorded in this HAR file instead, offline")
    where.add_argument("--cassette", metavar="DIR", help="check the answers recorded in this cassette, offline")
    conf.add_argument("--api-key", default=None, help="sent as Authorization: Key <K> (fal) or Bearer <K> (OpenAI)")
    conf.add_argument(
        "--api", action="append", default=None, help="check only this API, fal or openai (repeatable; default both)"
    )
    conf.add_argument(
        "--endpoint", action="append", default=None, help="fal endpoint id or OpenAI model to check (repeatable)"
    )
    conf.add_argument("--run-target", default=None, help="base URL of the run host (default: the mock's, on --target)")
    conf.add_argument(
        "--webhooks", action="store_true", help="also check webhook delivery to a loopback receiver"
    )
    conf.add_argument(
        "--webhook-keys", default=None,
        help="JWKS URL that verifies the target's webhooks (default: the target's key route in the spec)",
    )
    conf.add_argument("--extensions", action="store_true", help="also check the mock's own extension routes")
    conf.add_argument(
        "--poll-interval", type=non_negative_float, default=None, help="seconds between status polls (default 0.05)"
    )
    conf.add_argument(
        "--poll-timeout", type=non_negative_float, default=None, help="give up on a request after this many seconds"
    )
    conf.add_argument("--junit", default=None, help="write a JUnit XML report to this file")
    conf.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")


def check(args: argparse.Namespace) -> int:
    from mockserver.kit.client_check import run_check

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if args.har is not None or args.cassette is not None:
        return _check_recorded(args, command)
    try:
        settings = replace(settings_from(args), min_poll_interval=args.min_poll_interval)
    except ValueError as exc:
        print(f"flux-mock: {exc}", file=sys.stderr)
        return 2
    tls_dir = (args.state_dir or default_state_dir()) if args.tls else None
    try:
        return run_check(command, settings, strict=args.strict, tls_state_dir=tls_dir)
    except OSError as exc:
        print(f"flux-mock: cannot prepare certificates in {tls_dir}: {exc}", file=sys.stderr)
        return 2


def _check_recorded(args: argparse.Namespace, command: list[str]) -> int:
    from mockserver.kit.recorded_check import run_recorded_check
    from mockserver.spec.loader import Spec, default_spec

    if command:
        print("flux-mock check: give either a recording or a command after --, not both", file=sys.stderr)
        return 2
    source = _recording(args, "check")
    if source is None:
        return 2
    spec = default_spec() if args.spec is None else Spec.load(args.spec)
    return run_recorded_check(source, spec, args.min_poll_interval, strict=args.strict)


def _conformance_recorded(args: argparse.Namespace) -> int:
    from contract_tests.recorded_conformance import run_recorded_conformance
    from mockserver.spec.loader import default_spec

    source = _recording(args, "conformance")
    if source is None:
        return 2
    return run_recorded_conformance(source, default_spec())


def _recording(args: argparse.Namespace, command: str) -> str | None:
    """The recording named by --har or --cassette, when it is the kind of file the option says."""
    if args.cassette is not None:
        if not Path(args.cassette).is_dir():
            print(f"flux-mock {command}: --cassette {args.cassette}: not a directory", file=sys.stderr)
            return None
        return str(args.cassette)
    if Path(args.har).is_dir():
        print(f"flux-mock {command}: --har {args.har} is a directory (a cassette? use --cassette)", file=sys.stderr)
        return None
    return str(args.har)


def conformance(args: argparse.Namespace) -> int:
    if args.har is not None or args.cassette is not None:
        return _conformance_recorded(args)
    from contract_tests.runner import run_conformance  # pytest is imported only when asked for

    return run_conformance(
        args.target, api_key=args.api_key, endpoints=args.endpoint, junit=args.junit, apis=args.api,
        run_target=args.run_target, webhooks=args.webhooks, webhook_keys=args.webhook_keys,
        extensions=args.extensions, poll_interval=args.poll_interval, poll_timeout=args.poll_timeout,
        extra=args.pytest_args,
    )
