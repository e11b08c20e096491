"""The options ``serve`` and ``check`` share, and the :class:`~mockserver.config.Settings` they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from uvicorn.config import LOG_LEVELS

from mockserver.config import MB, REPLAY_MISSES, Settings
from mockserver.runtime.run_file import (
    default_state_dir,
)
from mockserver.sim.scenarios import bundled_scenarios
from mockserver.spec.typed_text import non_negative_float, port_number, positive_int

UPLOADS_DIR = "uploads"  # in the state directory: large uploads, while a mock runs


def add_state_dir(parser: argparse.ArgumentParser) -> None:
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
        "--replay", type=Path, default=None, metavar="DIR",
        help="answer from the cassette in DIR (recorded exchanges), its links pointed at this server; "
        "uploads are still simulated",
    )
    parser.add_argument(
        "--replay-miss", choices=REPLAY_MISSES, default=defaults.replay_miss,
        help="a request the cassette has no answer for: simulate it (flagged in the journal) "
        "or answer 404 (default %(default)s)",
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
    add_state_dir(parser)
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
        replay_dir=args.replay,
        replay_miss=args.replay_miss,
    )
