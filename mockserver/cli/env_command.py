"""``flux-mock env``: shell exports that point real clients at a running mock."""

from __future__ import annotations

import argparse
import sys

from mockserver.cli.serve_options import add_state_dir
from mockserver.runtime.run_file import (
    default_state_dir,
    port_of,
    running_mocks,
    shell_exports,
)
from mockserver.spec.typed_text import port_number


def add_env_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    env = commands.add_parser("env", help="print shell exports that point real clients at the running mock")
    env.add_argument(
        "--port", type=port_number, default=None,
        help="the mock serving on this port, when several run (default: the only one running)",
    )
    add_state_dir(env)


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
