"""``flux-mock check -- CMD``: run a client against a fresh mock and report what it broke.

The command runs with its environment pointing at the mock (see
:func:`client_environment`); afterwards every journal entry with a violation
is printed, grouped so a client that breaks one rule in a loop gives one line
with a count rather than a thousand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from mockserver.config import Settings
from mockserver.kit.journal import ERROR, Entry, Query

if TYPE_CHECKING:
    from mockserver.testing import MockServer

# Placeholder credentials: a real key in the caller's environment never reaches the mock.
CHECK_KEY = "flux-mock-check"


def client_environment(base: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment plus the variables that point clients at the mock."""
    env = dict(os.environ if environ is None else environ)
    env.update(
        {
            "FLUX_MOCK_URL": base,
            "FAL_QUEUE_URL": f"{base}/",  # for fal_client.client.QUEUE_URL_FORMAT
            "FAL_RUN_URL": f"{base}/run/",  # for fal_client.client.RUN_URL_FORMAT
            "OPENAI_BASE_URL": f"{base}/v1",
            "FAL_KEY": CHECK_KEY,
            "OPENAI_API_KEY": CHECK_KEY,
        }
    )
    return env


@dataclass(frozen=True)
class Summary:
    errors: int
    warnings: int
    requests: int

    def failed(self, *, allow_warnings: bool) -> bool:
        return self.errors > 0 or (self.warnings > 0 and not allow_warnings)


def summarize(entries: Sequence[Entry]) -> Summary:
    errors = sum(1 for e in entries for v in e.violations if v.severity == ERROR)
    warnings = sum(1 for e in entries for v in e.violations if v.severity != ERROR)
    return Summary(errors, warnings, len(entries))


def format_report(entries: Iterable[Entry]) -> str:
    """Entries with violations, grouped by request kind and broken rules, in order of first sight."""
    groups: dict[tuple[object, ...], list[Entry]] = {}
    for entry in entries:
        if not entry.violations:
            continue
        key = (
            entry.method,
            entry.operation or entry.path,
            tuple((v.rule, v.field) for v in entry.violations),
        )
        groups.setdefault(key, []).append(entry)
    lines: list[str] = []
    for same in groups.values():
        first = same[0]
        where = f"{first.method} {first.path}"
        if first.query:
            where += f"?{first.query}"
        named = f" ({first.operation})" if first.operation else ""
        test = f" test {first.test_id}" if first.test_id else ""
        more = f", and {len(same) - 1} more like it" if len(same) > 1 else ""
        lines.append(f"request #{first.seq}{test}: {where}{named} -> {first.status}{more}")
        for v in first.violations:
            field = f" field '{v.field}'" if v.field else ""
            lines.append(f"  {v.severity:<7} [{v.rule}]{field}: {v.message}")
    return "\n".join(lines)


def read_all(server: MockServer, test_id: str | None = None, since: int = 0) -> list[Entry]:
    entries, _ = server.context.journal.read(Query(test_id=test_id, since=since, limit=1_000_000))
    return entries


def run_check(
    command: Sequence[str],
    settings: Settings,
    *,
    allow_warnings: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    if not command:
        print("flux-mock check: give the command to run after --", file=sys.stderr)
        return 2
    from mockserver.testing import MockServer  # imported here: mockserver.testing re-exports this module

    with MockServer(settings) as server:
        print(f"flux-mock check: mock on {server.url}; running {' '.join(command)}", file=out, flush=True)
        try:
            code = subprocess.call(list(command), env=client_environment(server.url))
        except OSError as exc:
            print(f"flux-mock check: cannot run {command[0]!r}: {exc}", file=out)
            return 127
        entries = read_all(server)
    summary = summarize(entries)
    report = format_report(entries)
    if report:
        print(report, file=out)
    verdict = "FAILED" if summary.failed(allow_warnings=allow_warnings) or code != 0 else "passed"
    print(
        f"flux-mock check {verdict}: {summary.requests} requests, {summary.errors} errors, "
        f"{summary.warnings} warnings; command exited {code}",
        file=out,
    )
    if code != 0:
        return code
    return 1 if summary.failed(allow_warnings=allow_warnings) else 0
