"""Failures in words: the endpoint, the request, the rule that broke, and how.

Each rule a test evaluates is counted (:meth:`Findings.checked`), so the suite
can end with a summary per rule: checks passed, failed, and warned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"  # legal, but what a team should know of (e.g. a re-queued request)


@dataclass(frozen=True)
class Failure:
    rule: str  # a stable name, e.g. "response.schema", "lifecycle.transition"
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        tag = "" if self.severity == ERROR else f" ({self.severity})"
        return f"[{self.rule}]{tag} {self.message}"


class ContractViolation(AssertionError):
    """Raised by a conformance test; its text is the report."""


@dataclass
class Findings:
    """Failures found while checking one request against one endpoint."""

    endpoint: str
    request: str
    failures: list[Failure] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)  # every rule evaluated, failed or not

    def add(self, rule: str, message: str) -> None:
        self.failures.append(Failure(rule, message))
        self.rules.add(rule)

    def warn(self, rule: str, message: str) -> None:
        self.failures.append(Failure(rule, message, WARNING))
        self.rules.add(rule)

    def extend(self, failures: Iterable[Failure]) -> None:
        for failure in failures:
            self.failures.append(failure)
            self.rules.add(failure.rule)

    def checked(self, *rules: str) -> None:
        """Count these rules as evaluated (they pass unless a failure names them)."""
        self.rules.update(rules)

    @property
    def errors(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == ERROR]

    def report(self) -> str:
        lines = [f"endpoint {self.endpoint}, {self.request}:"]
        lines += [f"  {failure}" for failure in self.failures]
        return "\n".join(lines)

    def raise_if_any(self) -> None:
        """Fail on errors; warnings alone pass (they still show in the summary)."""
        if self.errors:
            raise ContractViolation(self.report())


@dataclass
class Tally:
    """Per rule, over a whole run: how many tests passed, failed or only warned on it."""

    passed: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    warned: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def add(self, found: Findings) -> None:
        for rule in found.rules:
            severities = {f.severity for f in found.failures if f.rule == rule}
            if ERROR in severities:
                self.failed[rule] += 1
            elif WARNING in severities:
                self.warned[rule] += 1
            else:
                self.passed[rule] += 1
        self.warnings += [f"{found.endpoint}: {f}" for f in found.failures if f.severity == WARNING]

    def lines(self) -> list[str]:
        rules = sorted({*self.passed, *self.failed, *self.warned})
        if not rules:
            return []
        width = max(len(rule) for rule in rules)
        out = [f"{'rule':<{width}}  passed  failed  warned"]
        out += [
            f"{rule:<{width}}  {self.passed[rule]:>6}  {self.failed[rule]:>6}  {self.warned[rule]:>6}" for rule in rules
        ]
        return out + [f"warning: {text}" for text in self.warnings]
