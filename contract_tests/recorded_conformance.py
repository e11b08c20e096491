"""``flux-mock conformance --har FILE`` / ``--cassette DIR``: every recorded answer judged against the spec, offline.

Each recorded exchange's operation is found by its path alone (a recording carries
real hosts); its answer, rebuilt as an ``httpx.Response``, is checked by
:func:`~contract_tests.response_checks.check_answer`, the rules ``--target``
applies to every answer, and counted in the same summary table. Entries no
operation matches are skipped and counted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import httpx

from contract_tests.operations import OperationIndex
from contract_tests.report import Findings, Tally
from contract_tests.response_checks import check_answer
from mockserver.testing import Spec, TrafficFileError, read_recording


def run_recorded_conformance(source: Path | str, spec: Spec, *, out: TextIO | None = None) -> int:
    """0 when every matched answer is as documented, 1 when one is not, 2 when the file cannot be read."""
    out = out or sys.stdout  # looked up when called: a test may have replaced it
    try:
        records = read_recording(source, spec.hosts)
    except TrafficFileError as exc:
        print(f"flux-mock conformance: {exc}", file=sys.stderr)
        return 2
    index = OperationIndex(spec, "")
    tally, skipped, unanswered, errors = Tally(), 0, 0, 0
    for n, rec in enumerate(records):
        if not rec.answered:  # nothing of the server's to judge
            unanswered += 1
            continue
        op = index.find(rec.method, rec.path)
        if op is None:
            skipped += 1
            continue
        answer = httpx.Response(
            rec.status,
            headers=list(rec.response_headers.items()),
            content=rec.response_body,
            request=httpx.Request(rec.method, rec.url),
        )
        found = Findings(op.operation_id, f"recorded entry {n}: {rec.method} {rec.path}")
        check_answer(spec, op, answer, found)
        tally.add(found)
        if found.errors:
            errors += len(found.errors)
            print(found.report(), file=out)
    for line in tally.lines():
        print(line, file=out)
    verdict = "FAILED" if errors else "passed"
    checked = len(records) - skipped - unanswered
    without = f", {unanswered} without an answer" if unanswered else ""
    print(
        f"flux-mock conformance {verdict}: {checked} recorded answers checked, {skipped} skipped{without},"
        f" {errors} errors",
        file=out,
    )
    return 1 if errors else 0
