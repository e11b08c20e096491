"""The ``flux-mock`` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from uvicorn.config import LOG_LEVELS

from mockserver import __version__
from mockserver.config import MB, Settings
from mockserver.http.app import create_app
from mockserver.http.routes.dashboard import dashboard_path
from mockserver.runtime.run_file import (
    RunInfo,
    client_url,
    default_state_dir,
    port_of,
    remove_run_file,
    running_mocks,
    shell_exports,
    write_run_file,
)
from mockserver.runtime.server import bind, fast_stack, make_server, tune_gc
from mockserver.sim.scenarios import bundled_scenarios
from mockserver.spec.documents import SpecError
from mockserver.spec.typed_text import non_negative_float, port_number, positive_int

UPLOADS_DIR = "uploads"  # in the state directory: large uploads, while a mock runs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flux-mock", description="Local mock of the FLUX.1 Kontext image APIs.")
    parser.add_argument("--version", action="version", version=f"flux-mock {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the mock (the default command)")
    add_serve_options(serve)
    add_check_parser(commands)
    add_conformance_parser(commands)
    env = commands.add_parser("env", help="print shell exports that point real clients at the running mock")
    env.add_argument(
        "--port", type=port_number, default=None,
        help="the mock serving on this port, when several run (default: the only one running)",
    )
    _add_state_dir(env)
    return parser


def add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check", help="run a client command against a fresh mock and report its contract violations",
        usage="flux-mock check [options] -- CMD [ARGS ...]  |  flux-mock check --har FILE [options]",
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
    check.add_argument(
        "--har", default=None, metavar="FILE", help="judge the client traffic recorded in this HAR file instead"
    )
    check.add_argument("cmd", nargs=argparse.REMAINDER, help="the client command, after --")


def add_conformance_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conf = commands.add_parser("conformance", help="check a server against the spec (runs the contract_tests suite)")
    where = conf.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", help="base URL of the server under test")
    where.add_argument("--har", metavar="FILE", help="check the answers recorded in this HAR file instead, offline")
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

def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=None,
        help="where the CA, certificates, run file and large uploads live "
        "(default $FLUX_MOCK_STATE_DIR or ~/.local/state/flux-mock)",
    )


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.add_argument("--host", default=defaults.host, help="address to listen on (default %(default)s)")
    parser.add_argument(
        "--port", type=port_number, default=defaults.port, help="port; 0 picks a free one (default %(default)s)"
    )
    parser.add_argument(
        "--time-scale", type=non_negative_float, default=defaults.time_scale,
        help="multiply simulated durations; 0 completes jobs at once (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=defaults.concurrency,
        help="simulated model workers; more jobs wait in the queue (default %(default)s)",
    )
    parser.add_argument("--api-key", default=None, help="require this key (Key or Bearer); default: accept any")
    parser.add_argument(
        "--retention", type=non_negative_float, default=None, metavar="SECONDS",
        help="keep every finished request and its files this long; default: fal's rules "
        "(an hour, six minutes for results of 10 KB or more)",
    )
    parser.add_argument(
        "--plain-b64-json", action="store_true",
        help="OpenAI API: send b64_json as bare base64 instead of the provider's data URI",
    )
    parser.add_argument(
        "--spec", action="append", type=Path, help="OpenAPI file to serve (repeatable); default: specs/"
    )
    parser.add_argument(
        "--fetch-inputs-from", action="append", default=[], metavar="HOST",
        help="fetch input image URLs from this host[:port] (repeatable; '*' for any); default: fetch nothing",
    )
    parser.add_argument(
        "--scenarios", type=Path, default=None,
        help="YAML file of scenario rules (fault injection), or the name of a ready-made one: "
        + ", ".join(bundled_scenarios()),
    )
    parser.add_argument(
        "--scenario-seed", type=int, default=defaults.scenario_seed,
        help="seed of the rules' random draws (default %(default)s)",
    )
    parser.add_argument("--step", action="store_true", help="step mode: each status poll moves a job on one state")
    parser.add_argument(
        "--balance", type=non_negative_float, default=None, metavar="UNITS",
        help="simulate an account holding UNITS billing units (per image for Kontext), charged per completed "
        "request; once spent, submits answer 403 as fal's do (see /_mock/account); default: no account",
    )
    parser.add_argument(
        "--max-jobs", type=int, default=defaults.max_jobs,
        help="requests kept at most; the oldest finished go first, a hundredth of the cap at once "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--max-body-mb", type=non_negative_float, default=defaults.max_body_bytes / MB,
        help="largest request body accepted, in MiB; larger gets 413 (default %(default)g)",
    )
    parser.add_argument(
        "--max-files-mb", type=non_negative_float, default=defaults.max_file_bytes / MB,
        help="memory for generated images and small uploads, in MiB; the oldest go first (default %(default)g)",
    )
    parser.add_argument(
        "--max-upload-mb", type=non_negative_float, default=defaults.max_upload_bytes / MB,
        help="largest uploaded file, in one request or in parts, in MiB; larger gets 413 (default %(default)g)",
    )
    parser.add_argument(
        "--max-disk-mb", type=non_negative_float, default=defaults.max_disk_bytes / MB,
        help="disk for large uploads (in the state directory's uploads/), in MiB; the oldest go first "
        "(default %(default)g)",
    )
    parser.add_argument(
        "--journal-max-entries", type=positive_int, default=defaults.journal_max_entries,
        help="requests the journal keeps, newest first (default %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=tuple(LOG_LEVELS),
        help="uvicorn log level (default %(default)s)",
    )
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a local CA kept in the state directory")
    _add_state_dir(parser)
    parser.add_argument(
        "--webhook-allow", action="append", default=[], metavar="HOST",
        help="also deliver webhooks to this host (repeatable); default: loopback addresses only",
    )
    parser.add_argument(
        "--webhook-attempts", type=positive_int, default=None, metavar="N",
        help="delivery attempts per webhook, their waits still spread over the window "
        "(default: fal's schedule, 10 attempts over 2 h × time-scale)",
    )
    parser.add_argument(
        "--webhook-backoff", type=non_negative_float, default=None, metavar="SECONDS",
        help="real seconds before the first retry, doubling after each "
        "(default: fal's schedule, 10 attempts over 2 h × time-scale)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        concurrency=args.concurrency,
        api_key=args.api_key,
        retention_seconds=args.retention,
        b64_data_uri=not args.plain_b64_json,
        max_jobs=args.max_jobs,
        max_body_bytes=int(args.max_body_mb * MB),
        max_file_bytes=int(args.max_files_mb * MB),
        max_upload_bytes=int(args.max_upload_mb * MB),
        max_disk_bytes=int(args.max_disk_mb * MB),
        upload_dir=(args.state_dir or default_state_dir()) / UPLOADS_DIR,
        journal_max_entries=args.journal_max_entries,
        spec_paths=tuple(args.spec) if args.spec else None,
        fetch_hosts=tuple(args.fetch_inputs_from),
        scenarios_path=args.scenarios,
        scenario_seed=args.scenario_seed,
        step_mode=args.step,
        balance=args.balance,
        webhook_allow_hosts=tuple(args.webhook_allow),
        webhook_attempts=args.webhook_attempts,
        webhook_backoff_seconds=args.webhook_backoff,
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


def check(args: argparse.Namespace) -> int:
    from mockserver.kit.client_check import run_check

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if args.har is not None:
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
        print("flux-mock check: give either --har FILE or a command after --, not both", file=sys.stderr)
        return 2
    spec = default_spec() if args.spec is None else Spec.load(args.spec)
    return run_recorded_check(args.har, spec, args.min_poll_interval, strict=args.strict)


def _conformance_recorded(args: argparse.Namespace) -> int:
    from contract_tests.recorded_conformance import run_recorded_conformance
    from mockserver.spec.loader import default_spec

    return run_recorded_conformance(args.har, default_spec())


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def env(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir()
    live = running_mocks(state_dir)
    if args.port is not None:
        live = [info for info in live if port_of(info) == args.port]
    if not live:
        where = f" on port {args.port}" if args.port is not None else ""
        print(f"flux-mock: no running mock{where} recorded in {state_dir}; start `flux-mock serve --tls`",
              file=sys.stderr)
        return 1
    if len(live) > 1:
        urls = ", ".join(info.url for info in live)
        print(f"flux-mock: {len(live)} mocks are running ({urls}); pick one with `flux-mock env --port PORT`",
              file=sys.stderr)
        return 1
    info = live[0]
    if info.bundle is None:
        print("flux-mock: note: the mock serves plain HTTP; fal-client needs `serve --tls`", file=sys.stderr)
    sys.stdout.write(shell_exports(info))
    return 0


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
        if args.har is not None:
            return _conformance_recorded(args)
        from contract_tests.runner import run_conformance  # pytest is imported only when asked for

        return run_conformance(
            args.target, api_key=args.api_key, endpoints=args.endpoint, junit=args.junit, apis=args.api,
            run_target=args.run_target, webhooks=args.webhooks, webhook_keys=args.webhook_keys,
            extensions=args.extensions, poll_interval=args.poll_interval, poll_timeout=args.poll_timeout,
            extra=args.pytest_args,
        )
    if args.command == "env":
        return env(args)
    parser.print_help()
    return 2
