"""Every rule the journal judges clients by, with its severity: the one table.

The README's table says the same in prose. A rule the official clients
break by design (fal-client retries a 429 on its own backoff, whatever
``Retry-After`` says) is a warning at most, so a program written with them
passes a default check; ``--strict`` (``strict=True``) fails on warnings too.
Info lines say what the mock was told to do, and what the client saw because
of it; they never fail a check.
"""

from __future__ import annotations

from typing import NamedTuple

from mockserver.kit.journal import ERROR, INFO, WARNING, Violation


class Rule(NamedTuple):
    severity: str
    what: str


SCHEMA_PREFIX = "schema."  # schema.<type>: one rule per kind of schema error (type, missing, range, ...)

RULES: dict[str, Rule] = {
    "schema.<type>": Rule(ERROR, "a body field breaks the schema of the model it names (type, missing, range, ...)"),
    "schema.unknown-field": Rule(WARNING, "a field the model's schema lacks; the server ignores it"),
    "body.content-type": Rule(ERROR, "the body is sent in a media type the operation does not take"),
    "body.json": Rule(ERROR, "the body is not JSON"),
    "body.form": Rule(ERROR, "the multipart body cannot be parsed"),
    "queue.result-before-completed": Rule(ERROR, "fetched a result before a status answer said COMPLETED"),
    "queue.url-not-followed": Rule(ERROR, "built a queue URL instead of using the returned ones"),
    "queue.poll-too-fast": Rule(ERROR, "polled status sooner than --min-poll-interval (default 0.05 s)"),
    "http.retry-after-ignored": Rule(
        WARNING, "repeated a request before its retry-after-ms / Retry-After delay ended (fal-client does, by design)"
    ),
    "http.retry-refused-ignored": Rule(
        WARNING, "repeated a request its answer said not to retry (x-should-retry: false)"
    ),
    "response.rejected": Rule(ERROR, "any other 4xx the mock answered on its own (bad route, credentials, ...)"),
    "response.server-error": Rule(WARNING, "a 5xx nobody asked for: the mock's fault, not the client's"),
    "fault.injected": Rule(INFO, "the mock answered as a scenario rule or an x-mock-fail-* header asked"),
    "replay.miss": Rule(
        WARNING, "no recorded answer matched a request to a replaying mock; it simulated it (or answered 404)"
    ),
    "queue.result-after-cancel": Rule(
        INFO, "read the result of a request it had cancelled (fal-client's subscribe(client_timeout=...) does)"
    ),
}


def violation(rule: str, message: str, field: str | None = None) -> Violation:
    """A violation of ``rule`` with the severity the table gives it."""
    key = "schema.<type>" if rule.startswith(SCHEMA_PREFIX) and rule not in RULES else rule
    return Violation(rule, message, field, RULES[key].severity)
