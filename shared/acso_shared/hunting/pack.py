"""A set of compiled rules evaluated together over a stream of CloudTrail records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from acso_shared.errors import AcsoError, Conflict, NotFound
from acso_shared.hunting.compiled import EventRule, make_hit
from acso_shared.hunting.compiler import INDEX_FIELD, CompiledRule, compile_rule
from acso_shared.hunting.correlation import CorrelationRule
from acso_shared.hunting.fields import EventView
from acso_shared.hunting.models import Hit, RuleError, RuleErrorStage, RuleMeta

INPUT_SOURCE = "<input>"


@dataclass(slots=True)
class _Entry:
    """One event predicate to run, and where its matches go."""

    rule: EventRule
    emit: bool
    buckets: list[list[Mapping[str, Any]]] = field(default_factory=list)


_Plan = tuple[dict[str, list[_Entry]], list[_Entry], list[tuple[CorrelationRule, dict[str, list[Any]]]]]


class RulePack:
    """Compiled rules plus their enabled state and a per-rule error report.

    `evaluate` runs every enabled rule over the records; a rule that raises on some record is
    reported in `errors` and the other rules carry on.
    """

    def __init__(self, rules: Iterable[CompiledRule] = (), errors: Iterable[RuleError] = ()) -> None:
        self._rules: dict[str, CompiledRule] = {}
        self._disabled: set[str] = set()
        self._compile_errors = list(errors)
        self._runtime_errors: dict[tuple[str, str], RuleError] = {}
        self._plan: _Plan | None = None
        for rule in rules:
            self.add(rule)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> RulePack:
        """Compile rules from YAML texts keyed by a source name; failures land in `errors`."""
        compiled: list[CompiledRule] = []
        errors: list[RuleError] = []
        for source, text in texts.items():
            try:
                compiled.append(compile_rule(text))
            except AcsoError as err:
                errors.append(
                    RuleError(source=source, stage=RuleErrorStage.COMPILE, code=err.code, message=err.message)
                )
        pack = cls(errors=errors)
        for rule in compiled:
            try:
                pack.add(rule)
            except Conflict as err:
                pack._compile_errors.append(
                    RuleError(source=rule.meta.id, stage=RuleErrorStage.COMPILE, code=err.code, message=err.message)
                )
        return pack

    @property
    def rules(self) -> list[RuleMeta]:
        """Metadata of every rule in the pack, enabled or not."""
        return [rule.meta for rule in self._rules.values()]

    def get(self, rule_id: str) -> CompiledRule:
        """One rule by id."""
        try:
            return self._rules[rule_id]
        except KeyError:
            raise NotFound("rule_not_found", f"no rule with id {rule_id}") from None

    def add(self, rule: CompiledRule) -> None:
        """Add a compiled rule, enabled. Rule ids (including correlation base rules) are unique."""
        ids = [rule.meta.id]
        if isinstance(rule, CorrelationRule):
            ids += [base.meta.id for base in rule.base_rules]
        for rule_id in ids:
            if rule_id in self._rules or any(
                isinstance(r, CorrelationRule) and any(b.meta.id == rule_id for b in r.base_rules)
                for r in self._rules.values()
            ):
                raise Conflict("rule_exists", f"a rule with id {rule_id} is already in the pack")
        self._rules[rule.meta.id] = rule
        self._plan = None

    def remove(self, rule_id: str) -> None:
        """Remove a rule."""
        self.get(rule_id)
        del self._rules[rule_id]
        self._disabled.discard(rule_id)
        self._plan = None

    def enable(self, rule_id: str) -> None:
        """Enable a rule."""
        self.get(rule_id)
        self._disabled.discard(rule_id)
        self._plan = None

    def disable(self, rule_id: str) -> None:
        """Disable a rule: it stays in the pack but is not evaluated."""
        self.get(rule_id)
        self._disabled.add(rule_id)
        self._plan = None

    def is_enabled(self, rule_id: str) -> bool:
        """Whether a rule is evaluated."""
        self.get(rule_id)
        return rule_id not in self._disabled

    @property
    def errors(self) -> list[RuleError]:
        """Rules that failed to compile, and rules that failed while evaluating (with counts)."""
        return [*self._compile_errors, *self._runtime_errors.values()]

    def evaluate(self, events: Iterable[Mapping[str, Any]]) -> list[Hit]:
        """Run every enabled rule over the records, in one pass; correlations fire at the end."""
        indexed, unindexed, correlations = self._build_plan()
        for entry in (*unindexed, *(e for entries in indexed.values() for e in entries)):
            for bucket in entry.buckets:
                bucket.clear()
        hits: list[Hit] = []
        for record in events:
            if not isinstance(record, Mapping):
                self._runtime_error(INPUT_SOURCE, "event_not_object", f"an event is a {type(record).__name__}")
                continue
            view = EventView(record)
            names = view.lowered(INDEX_FIELD)
            candidates = unindexed
            if names:
                found = [e for name in names for e in indexed.get(name, ())]
                candidates = [*unindexed, *found] if found else unindexed
            for entry in candidates:
                try:
                    matched = entry.rule.predicate(view)
                except Exception as err:  # a defective rule must never stop the others
                    self._runtime_error(entry.rule.meta.id, "rule_failed", f"{type(err).__name__}: {err}")
                    continue
                if matched:
                    if entry.emit:
                        hits.append(make_hit(entry.rule.meta, [record]))
                    for bucket in entry.buckets:
                        bucket.append(record)
        for correlation, matches in correlations:
            try:
                outcome = correlation.evaluate(matches)
            except Exception as err:  # same isolation for correlations
                self._runtime_error(correlation.meta.id, "rule_failed", f"{type(err).__name__}: {err}")
                continue
            hits.extend(outcome.hits)
            if outcome.untimed_events:
                self._runtime_error(
                    correlation.meta.id,
                    "event_without_time",
                    "matched events without a parsable eventTime were left out of the correlation",
                    outcome.untimed_events,
                )
        return hits

    def _runtime_error(self, source: str, code: str, message: str, count: int = 1) -> None:
        key = (source, code)
        known = self._runtime_errors.get(key)
        occurrences = count + (known.occurrences if known else 0)
        self._runtime_errors[key] = RuleError(
            source=source, stage=RuleErrorStage.EVALUATE, code=code, message=message, occurrences=occurrences
        )

    def _build_plan(self) -> _Plan:
        if self._plan is not None:
            return self._plan
        entries: list[_Entry] = []
        correlations: list[tuple[CorrelationRule, dict[str, list[Any]]]] = []
        for rule_id, rule in self._rules.items():
            if rule_id in self._disabled:
                continue
            if isinstance(rule, EventRule):
                entries.append(_Entry(rule, emit=True))
                continue
            matches: dict[str, list[Any]] = {}
            for base in rule.base_rules:
                bucket: list[Any] = []
                matches[base.meta.id] = bucket
                entries.append(_Entry(base, emit=rule.generate, buckets=[bucket]))
            correlations.append((rule, matches))
        indexed: dict[str, list[_Entry]] = {}
        unindexed: list[_Entry] = []
        for entry in entries:
            if entry.rule.index_keys is None:
                unindexed.append(entry)
            else:
                for key in entry.rule.index_keys:
                    indexed.setdefault(key, []).append(entry)
        self._plan = (indexed, unindexed, correlations)
        return self._plan


def builtin_rule_texts() -> dict[str, str]:
    """The YAML texts of the built-in CloudTrail rule pack, keyed by file name."""
    folder = resources.files("acso_shared.hunting") / "rules"
    return {
        item.name: item.read_text(encoding="utf-8")
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith((".yml", ".yaml"))
    }


def load_builtin_rules() -> RulePack:
    """Compile the built-in CloudTrail rule pack. A rule that fails is listed in `errors`."""
    return RulePack.from_texts(builtin_rule_texts())
