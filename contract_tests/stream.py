"""The status stream (Server-Sent Events): each event checked against the spec's event schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from contract_tests.operations import OperationIndex
from contract_tests.report import Findings
from contract_tests.response_checks import check_response, documented_response
from mockserver.testing import Spec

EVENT_STREAM = "text/event-stream"
_MAX_EVENTS = 1000


def check_stream(
    spec: Spec, index: OperationIndex, client: httpx.Client, url: str, final_state: str, found: Findings
) -> None:
    """Read the stream of a finished request: documented answer, valid events, ending with the final state."""
    op = index.find("GET", url)
    if op is None:
        found.add("stream.url", f"GET {url}: no stream operation in the spec")
        return
    try:
        with client.stream("GET", url, timeout=30) as answer:
            if answer.status_code == 200:
                events = _events(answer)
            else:
                events = []
                answer.read()  # an error body, checked below
    except httpx.HTTPError as exc:
        found.add("stream.read", f"GET {url} failed: {exc}")
        return
    found.extend(check_response(spec, op, answer))
    if answer.status_code != 200:
        found.add("stream.status", f"GET {url} answered {answer.status_code}, not 200")
        return
    documented = documented_response(spec, op, 200)
    content = documented[1].get("content", {}).get(EVENT_STREAM, {}) if documented else {}
    if documented is None or "x-mock-event-schema" not in content:
        return  # the spec does not say what an event holds
    validator = spec.validator(op.document, f"{documented[0]}/content/text~1event-stream/x-mock-event-schema")
    for n, event in enumerate(events):
        for error in list(validator.iter_errors(event))[:3]:
            found.add("stream.event", f"event {n} of GET {url}: at {error.json_path}: {error.message}")
    last = events[-1] if events else None
    state = last.get("status") if isinstance(last, Mapping) else None
    if state != final_state:
        found.add("stream.final", f"the stream of a {final_state} request ended with {state!r}, not {final_state}")


def _events(answer: httpx.Response) -> list[Any]:
    events: list[Any] = []
    data: list[str] = []
    for line in answer.iter_lines():
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            events.append(_parse("\n".join(data)))
            data = []
        if len(events) >= _MAX_EVENTS:
            break
    if data:
        events.append(_parse("\n".join(data)))
    return events


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # the schema check reports it
