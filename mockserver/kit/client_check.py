"""``flux-mock check -- CMD``: run a client against a fresh mock and report what it broke.

The command runs with the environment ``flux-mock env`` prints for that mock
(:func:`~mockserver.runtime.run_file.client_environment`: both fal hosts, the
CA bundle with ``--tls``, the OpenAI base URL, placeholder keys), so an
unmodified program reaches only the mock. Afterwards every journal entry
with a violation is printed, grouped so a client that breaks one rule in a
loop gives one line with a count rather than a thousand. Errors fail the
check; warnings too when it is strict; info lines never do.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mockserver.config import Settings
from mockserver.kit.journal import ERROR, INFO, WARNING, Entry, Query
from mockserver.runtime.run_file import client_environment

if TYPE_CHECKING:
    from mockserver.testing import MockServer


@dataclass(frozen=True)
class Summary:
    errors: int
    warnings: int
    requests: int
    notes: int = 0  # info lines: what the mock was told to do

    def failed(self, *, strict: bool = False) -> bool:
        return self.errors > 0 or (strict and self.warnings > 0)

    def counts(self) -> str:
        return f"{self.requests} requests, {self.errors} errors, {self.warnings} warnings, {self.notes} notes"


def summarize(entries: Sequence[Entry]) -> Summary:
    severities = [v.severity for e in entries for v in e.violations]
    return Summary(severities.count(ERROR), severities.count(WARNING), len(entries), severities.count(INFO))


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
        request_id = f" (request id {first.request_id})" if first.request_id else ""
        lines.append(f"request #{first.seq}{test}: {where}{named} -> {first.status}{more}{request_id}")
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
    strict: bool = False,
    tls_state_dir: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Run ``command`` against a fresh mock (HTTPS with ``tls_state_dir``); 0 when it passed."""
    out = out or sys.stdout  # looked up when called: a test may have replaced it
    if not command:
        print("flux-mock check: give the command to run after --", file=sys.stderr)
        return 2
    from mockserver.testing import MockServer  # imported here: mockserver.testing re-exports this module

    with MockServer(settings, tls_state_dir=tls_state_dir) as server:
        print(f"flux-mock check: mock on {server.url}; running {' '.join(command)}", file=out, flush=True)
        print(f"flux-mock check: dashboard on {server.ui_url} while the command runs", file=out, flush=True)
        try:
            code = subprocess.call(list(command), env=client_environment(server.run_info()))
        except OSError as exc:
            print(f"flux-mock check: cannot run {command[0]!r}: {exc}", file=out)
            return 127
        entries = read_all(server)
    failed = print_verdict(entries, strict=strict, out=out, code=code)
    if code != 0:
        return code
    return 1 if failed else 0


def print_verdict(entries: Sequence[Entry], *, strict: bool, out: TextIO, code: int | None = None) -> bool:
    """Print the grouped report and the verdict line; whether the check failed (the command aside)."""
    summary = summarize(entries)
    report = format_report(entries)
    if report:
        print(report, file=out)
    failed = summary.failed(strict=strict)
    verdict = "FAILED" if failed or code else "passed"
    mode = " (strict: warnings fail)" if strict else ""
    tail = f"; command exited {code}" if code is not None else ""
    print(f"flux-mock check {verdict}{mode}: {summary.counts()}{tail}", file=out)
    return failed
