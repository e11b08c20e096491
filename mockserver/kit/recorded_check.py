"""``flux-mock check --har FILE`` / ``--cassette DIR``: judge recorded client traffic with the live check's rules.

Each recorded exchange (:mod:`~mockserver.kit.recordings`) becomes the
:class:`~mockserver.kit.client_rules.Exchange` the mock's journal would
have made of it, judged in order by the same
:class:`~mockserver.kit.client_rules.ClientRules`, and reported in the same
words (:func:`~mockserver.kit.client_check.print_verdict`). Entries whose
path is no spec operation are judged only by the rules that need none.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from mockserver.kit.client_check import print_verdict
from mockserver.kit.client_rules import ClientRules, Exchange
from mockserver.kit.journal import Entry, redact_headers, summarize
from mockserver.kit.recordings import read_recording
from mockserver.kit.traffic_file import OperationMatcher, Recorded, TrafficFileError, json_or_none
from mockserver.spec.loader import Spec


def recorded_entries(records: list[Recorded], spec: Spec, min_poll_interval: float) -> list[Entry]:
    """The journal entries the live check would have written for this traffic, violations included."""
    rules = ClientRules(spec, min_poll_interval)
    matcher = OperationMatcher(spec)
    test_id_header = spec.test_id_header.lower()
    entries: list[Entry] = []
    for seq, rec in enumerate(records, start=1):
        found = matcher.find(rec.method, rec.path)
        operation, params = found if found else (None, {})
        media = rec.response_headers.get("content-type", "")
        exchange = Exchange(
            at=rec.at,
            test_id=rec.request_headers.get(test_id_header),
            method=rec.method,
            path=rec.path,
            operation=operation,
            path_params=params,
            content_type=rec.request_headers.get("content-type", ""),
            body=rec.body,
            status=rec.status,
            response_headers=rec.response_headers,
            response_json=json_or_none(rec.response_body, media),
        )
        request_json = json_or_none(rec.body, "application/json")
        id_header = spec.request_id_header(spec.document_for_path(rec.path).dialect).lower()
        entries.append(
            Entry(
                seq=seq,
                at=rec.at,
                test_id=exchange.test_id,
                method=rec.method,
                path=rec.path,
                query=rec.query,
                operation=operation.operation_id if operation else None,
                headers=redact_headers(rec.request_headers.items()),
                body=summarize(request_json) if request_json is not None else None,
                status=rec.status,
                duration_ms=0.0,
                request_id=rec.response_headers.get(id_header),
                violations=rules.check(exchange),
            )
        )
    return entries


def run_recorded_check(
    source: Path | str, spec: Spec, min_poll_interval: float, *, strict: bool = False, out: TextIO | None = None
) -> int:
    """0 when the recorded client broke no rule, 1 when it did, 2 when the file cannot be read."""
    out = out or sys.stdout  # looked up when called: a test may have replaced it
    try:
        records = read_recording(source, spec.hosts)
    except TrafficFileError as exc:
        print(f"flux-mock check: {exc}", file=sys.stderr)
        return 2
    print(f"flux-mock check: judging {len(records)} recorded requests from {source}", file=out)
    failed = print_verdict(recorded_entries(records, spec, min_poll_interval), strict=strict, out=out)
    return 1 if failed else 0
