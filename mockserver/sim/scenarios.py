"""Scenario rules: which requests the mock answers badly, and how.

A rule pairs a match (endpoint, method, operation, path, prompt, header, the
nth matching request, a probability) with one effect. Rules live in scopes:
the global scope (rules from ``--scenarios`` or created without a test id)
applies to every request, a test's scope (``X-Mock-Test-Id``) only to that
test's requests. Counters — the nth match, ``times``, the random draws — are
kept per rule *and per test*, so tests sharing a global rule never shift each
other's counts, and a seeded rule draws the same sequence in every run.

Rule documents are validated against the spec (``ScenarioRule`` in
specs/mock-admin.yaml) before they reach this module; here they are compiled
and evaluated. Nothing in this module knows HTTP.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mockserver.sim.decisions import Decision
from mockserver.sim.jobs import JobFailure
from mockserver.spec.loader import Spec
from mockserver.spec.validation import Issue, validate
from mockserver.spec.yaml_files import read_yaml

# Effects that replace the answer: when several rules would, the first one wins.
RESPONSE_EFFECTS = frozenset({"error", "ingress_error", "timeout", "drop"})
# Effects on the job a request creates.
JOB_EFFECTS = frozenset({"stuck", "fail", "step", "flag", "requeue", "unserialisable_output"})
# Counters kept per rule, one per test id seen; the oldest go first past this.
MAX_SCOPES_PER_RULE = 10_000
# Rules kept in all scopes together: a test suite that never cleans up cannot grow the server without bound.
MAX_RULES = 10_000
# The ready-made scenario files: beside the package in a checkout, inside the kit's fixtures
# once installed from a wheel.
_HERE = Path(__file__).resolve().parents[2]
BUNDLED_DIRS = (_HERE / "fixtures" / "scenarios", _HERE / "contract_tests" / "fixtures" / "scenarios")


def bundled_scenarios() -> dict[str, Path]:
    """The ready-made scenarios by name (``rate-limited``, ...)."""
    for folder in BUNDLED_DIRS:
        if folder.is_dir():
            return {path.stem: path for path in sorted(folder.glob("*.yaml"))}
    return {}


def scenario_file(path: Path | str) -> Path:
    """``path`` itself when it exists, else the bundled scenario it names (with or without ``.yaml``)."""
    path = Path(path)
    if path.exists() or path.parent != Path("."):
        return path
    return bundled_scenarios().get(path.name.removesuffix(".yaml"), path)


class ScenarioError(ValueError):
    """A rule or scenario file the mock cannot use, with the failing fields."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.field_path}: {i.msg}" if i.loc else i.msg for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class Facts:
    """What a rule can look at in a request."""

    method: str
    path: str
    operation: str  # operationId
    handler: str  # x-mock-handler
    headers: Mapping[str, str]  # lower-case names
    test_id: str | None = None
    endpoint: str | None = None  # model endpoint id, when the request concerns one
    prompt: str | None = None
    safety_tolerance: int | None = None  # the request's, or its model's default, when the model has one
    creates_job: bool = False
    streams: bool = False
    cancels: bool = False


@dataclass
class _Counter:
    rng: random.Random
    matched: int = 0
    fired: int = 0


class Rule:
    """A compiled rule document."""

    def __init__(self, rule_id: str, scope: str | None, doc: Mapping[str, Any]) -> None:
        self.id = rule_id
        self.scope = scope
        self.doc = dict(doc)
        match = doc.get("match", {})
        self.effect: Mapping[str, Any] = doc["effect"]
        self.kind = str(self.effect["type"])
        self.times: int | None = doc.get("times")
        self._endpoint: str | None = match.get("endpoint")
        self._method: str | None = match["method"].upper() if "method" in match else None
        self._operation: str | None = match.get("operation")
        self._path: str | None = match.get("path")
        self._prompt = _regex(match["prompt"], ("match", "prompt")) if "prompt" in match else None
        header = match.get("header")
        self._header: tuple[str, re.Pattern[str] | None] | None = None
        if header is not None:
            value = _regex(header["value"], ("match", "header", "value")) if "value" in header else None
            self._header = (str(header["name"]).lower(), value)
        self.nth: int | None = match.get("nth")
        self.after: int | None = match.get("after")
        self._tolerance_at_most: int | None = match.get("safety_tolerance_at_most")
        self.probability: float | None = match.get("probability")
        self.seed = match.get("seed")
        self.counters: dict[str | None, _Counter] = {}  # by the test id of the requests counted

    def applies_to(self, facts: Facts) -> bool:
        """Whether the effect means anything for this kind of request."""
        if self.kind in JOB_EFFECTS:
            return facts.creates_job
        if self.kind == "slow_stream":
            return facts.streams
        if self.kind == "cancel_race":
            return facts.cancels
        return True

    def matches(self, facts: Facts) -> bool:
        if self._method is not None and facts.method != self._method:
            return False
        if self._endpoint is not None and not (facts.endpoint and fnmatch.fnmatchcase(facts.endpoint, self._endpoint)):
            return False
        if self._operation is not None and not (
            fnmatch.fnmatchcase(facts.operation, self._operation) or fnmatch.fnmatchcase(facts.handler, self._operation)
        ):
            return False
        if self._path is not None and not fnmatch.fnmatchcase(facts.path, self._path):
            return False
        if self._prompt is not None and not (facts.prompt is not None and self._prompt.search(facts.prompt)):
            return False
        if self._tolerance_at_most is not None and not (
            facts.safety_tolerance is not None and facts.safety_tolerance <= self._tolerance_at_most
        ):
            return False
        if self._header is not None:
            name, value = self._header
            if name not in facts.headers:
                return False
            if value is not None and not value.search(facts.headers[name]):
                return False
        return True

    def as_json(self, counter: _Counter | None) -> dict[str, Any]:
        return {
            "id": self.id,
            **{k: v for k, v in self.doc.items() if k != "id"},
            "test_id": self.scope,
            "matched": counter.matched if counter else 0,
            "fired": counter.fired if counter else 0,
        }


def _regex(pattern: str, loc: tuple[str, ...]) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        issue = Issue(("body", *loc), f"not a valid regular expression: {exc}", "value_error.regex")
        raise ScenarioError([issue]) from None


class ScenarioBook:
    """Every scope's rules and counters. Thread-safe: tests may call it from other threads."""

    def __init__(self, initial: Iterable[Mapping[str, Any]] = (), *, seed: int = 0) -> None:
        self._seed = seed
        self._initial = [dict(doc) for doc in initial]
        self._lock = threading.Lock()
        self._rules: dict[str | None, list[Rule]] = {}
        self._ids = itertools.count(1)
        self.reset(None)

    # ---- management --------------------------------------------------------

    def add(self, doc: Mapping[str, Any], scope: str | None) -> Rule:
        with self._lock:
            self._check_room(1, scope)
            rule = self._compile(doc, scope)
            self._rules.setdefault(scope, []).append(rule)
            return rule

    def replace(self, docs: Iterable[Mapping[str, Any]], scope: str | None) -> list[Rule]:
        """Swap a scope's rules for these, all or nothing."""
        with self._lock:
            rules: list[Rule] = []
            seen: set[str] = set()
            for index, doc in enumerate(docs):
                try:
                    rule = self._compile(doc, scope, taken=seen)
                except ScenarioError as exc:
                    raise ScenarioError([_under(("rules", index), i) for i in exc.issues]) from None
                seen.add(rule.id)
                rules.append(rule)
            self._check_room(len(rules), scope, replacing=True)
            self._drop_scope(scope)
            self._rules[scope] = rules
            return rules

    def delete(self, rule_id: str, scope: str | None) -> bool:
        with self._lock:
            rules = self._rules.get(scope, [])
            for rule in rules:
                if rule.id == rule_id:
                    rules.remove(rule)
                    return True
            return False

    def clear(self, scope: str | None) -> None:
        with self._lock:
            self._drop_scope(scope)

    def reset(self, scope: str | None) -> None:
        """A test's scope: forget its rules and counts. The global scope: back to start-up."""
        with self._lock:
            if scope is not None:
                self._drop_scope(scope)
                for rule in self._rules.get(None, []):
                    rule.counters.pop(scope, None)
                return
            self._rules.clear()
            self._ids = itertools.count(1)
            seen: set[str] = set()
            rules = []
            for doc in self._initial:
                rule = self._compile(doc, None, taken=seen)
                seen.add(rule.id)
                rules.append(rule)
            self._rules[None] = rules

    def listing(self, scope: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_json(rule.counters.get(scope)) for rule in self._visible(scope)]

    def has_rules(self) -> bool:
        """Whether any rule, for any test, is loaded."""
        return any(self._rules.values())

    def active(self, scope: str | None) -> bool:
        return bool(self._rules.get(None)) or (scope is not None and bool(self._rules.get(scope)))

    # ---- evaluation --------------------------------------------------------

    def decide(self, facts: Facts) -> Decision:
        decision = Decision()
        scope = facts.test_id
        with self._lock:
            for rule in self._visible(scope):
                if not rule.applies_to(facts) or not rule.matches(facts):
                    continue
                counter = self._counter(rule, scope)
                counter.matched += 1
                if rule.kind in RESPONSE_EFFECTS and decision.response is not None:
                    continue  # an earlier rule already answers this request
                if not self._fires(rule, counter):
                    continue
                counter.fired += 1
                decision.fired.append(rule.id)
                _apply(rule.effect, decision)
        return decision

    # ---- internals ---------------------------------------------------------

    def _visible(self, scope: str | None) -> list[Rule]:
        # A test's own rules come first, so they win over global ones.
        own = self._rules.get(scope, []) if scope is not None else []
        return [*own, *self._rules.get(None, [])]

    def _counter(self, rule: Rule, scope: str | None) -> _Counter:
        counter = rule.counters.get(scope)
        if counter is None:
            seed = rule.seed if rule.seed is not None else self._seed
            counter = rule.counters[scope] = _Counter(random.Random(f"{seed}/{rule.id}/{scope or ''}"))
            if len(rule.counters) > MAX_SCOPES_PER_RULE:
                del rule.counters[next(iter(rule.counters))]
        return counter

    @staticmethod
    def _fires(rule: Rule, counter: _Counter) -> bool:
        if rule.nth is not None and counter.matched != rule.nth:
            return False
        if rule.after is not None and counter.matched <= rule.after:
            return False
        if rule.times is not None and counter.fired >= rule.times:
            return False
        return rule.probability is None or counter.rng.random() < rule.probability

    def _compile(self, doc: Mapping[str, Any], scope: str | None, taken: set[str] | None = None) -> Rule:
        name = doc.get("id")
        clash = taken if taken is not None else {r.id for r in self._rules.get(scope, [])}
        if name is not None:
            if name in clash:
                raise ScenarioError([Issue(("body", "id"), f"a rule with id {name!r} exists", "value_error.duplicate")])
            rule_id = str(name)
        else:
            rule_id = f"rule-{next(self._ids)}"
            while rule_id in clash:  # someone chose this name already
                rule_id = f"rule-{next(self._ids)}"
        return Rule(rule_id, scope, doc)

    def _check_room(self, adding: int, scope: str | None, *, replacing: bool = False) -> None:
        total = sum(len(rules) for key, rules in self._rules.items() if not (replacing and key == scope))
        if total + adding > MAX_RULES:
            message = f"the server holds at most {MAX_RULES} rules; reset or delete some (POST /_mock/scenarios/reset)"
            raise ScenarioError([Issue(("body",), message, "value_error.too_many_rules")])

    def _drop_scope(self, scope: str | None) -> None:
        self._rules.pop(scope, None)


def _under(prefix: tuple[str | int, ...], issue: Issue) -> Issue:
    return issue.at((issue.loc[0], *prefix, *issue.loc[1:]))


def _apply(effect: Mapping[str, Any], decision: Decision) -> None:
    kind = effect["type"]
    if kind in RESPONSE_EFFECTS:
        decision.response = effect
    elif kind == "latency":
        decision.latency_ms += float(effect["ms"])
    elif kind == "corrupt_body":
        decision.corrupt = decision.corrupt or str(effect.get("mode", "truncated"))
    elif kind == "slow_stream":
        decision.stream_interval_ms += float(effect["interval_ms"])
    elif kind == "cancel_race":
        decision.cancel_race = True
    elif kind == "step":
        decision.job.step = True
    elif kind == "stuck":
        if effect.get("state", "IN_QUEUE") == "IN_QUEUE":
            decision.job.hold_seconds += float(effect["seconds"])
        else:
            decision.job.stall_seconds += float(effect["seconds"])
    elif kind == "flag":
        decision.job.flagged = True
    elif kind == "requeue":
        decision.job.requeues = max(decision.job.requeues, int(effect.get("times", 1)))
    elif kind == "fail" and decision.job.failure is None:
        decision.job.failure = failure_of(effect)
    elif kind == "unserialisable_output":
        decision.job.unserialisable_output = True


def failure_of(effect: Mapping[str, Any]) -> JobFailure:
    status = int(effect.get("status", 500))
    default_message, default_type = (
        ("Unprocessable input", "model_input_error") if status < 500 else ("Internal server error", "internal_error")
    )
    message = str(effect.get("message", default_message))
    body = effect.get("body")
    return JobFailure(
        status, message, str(effect.get("error_type", default_type)), payload=dict(body) if body is not None else None
    )


def load_file(path: Path | str, spec: Spec) -> list[dict[str, Any]]:
    """The rules of a scenario file, checked against the spec's ``ScenarioFile`` schema."""
    path = scenario_file(path)
    try:
        doc = read_yaml(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, FileNotFoundError):
            reason += f" (nor a ready-made scenario: {', '.join(bundled_scenarios()) or 'none installed'})"
        issue = Issue((), f"cannot read scenario file {path}: {reason}", "value_error.file")
        raise ScenarioError([issue]) from None
    try:
        validator = spec.schema_validator("ScenarioFile")
    except KeyError:
        issue = Issue(("file",), "no ScenarioFile schema among the specs served", "value_error.spec")
        raise ScenarioError([issue]) from None
    issues = validate(validator, doc, root=str(path))
    if issues:
        raise ScenarioError(issues)
    rules: list[dict[str, Any]] = doc["rules"]
    ScenarioBook(rules)  # compiles every rule: bad regexes and duplicate ids fail here, at start-up
    return rules
