"""Failures in words: the endpoint, the request, the rule that broke, and how."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Failure:
    rule: str  # a stable name, e.g. "response.schema", "lifecycle.transition"
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


class ContractViolation(AssertionError):
    """Raised by a conformance test; its text is the report."""


@dataclass
class Findings:
    """Failures found while checking one request against one endpoint."""

    endpoint: str
    request: str
    failures: list[Failure] = field(default_factory=list)

    def add(self, rule: str, message: str) -> None:
        self.failures.append(Failure(rule, message))

    def extend(self, failures: list[Failure]) -> None:
        self.failures.extend(failures)

    def report(self) -> str:
        lines = [f"endpoint {self.endpoint}, {self.request}:"]
        lines += [f"  {failure}" for failure in self.failures]
        return "\n".join(lines)

    def raise_if_any(self) -> None:
        if self.failures:
            raise ContractViolation(self.report())
