"""A set of compiled rules evaluated together over a stream of CloudTrail records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from acso_shared.errors import AcsoError, Conflict, NotFound
from acso_shared.hunting.behaviour import NewBehaviour
from acso_shared.hunting.compiled import EventRule, make_hit
from acso_shared.hunting.compiler import CompiledRule, compile_rule
from acso_shared.hunting.correlation import CorrelationRule
from acso_shared.hunting.fields import EventView
from acso_shared.hunting.models import Hit, RuleError, RuleErrorStage, RuleMeta
from acso_shared.hunting.suppression import Suppression, Suppressions

INPUT_SOURCE = "<input>"


@dataclass(slots=True)
class _Entry:
    """One event predicate to run, and where its matches go."""

    rule: EventRule
    emit: bool
    order: int = 0
    buckets: list[list[Any]] = field(default_factory=list)
    predicate: Any = None  # the rule's, read once here rather than through two attributes per event
    rule_id: str = ""

    def __post_init__(self) -> None:
        self.predicate = self.rule.predicate
        self.rule_id = self.rule.meta.id


_CACHE_LIMIT = 65_536  # distinct (index values) keys remembered per plan


@dataclass(slots=True)
class _Plan:
    """Rules indexed by the values their conditions require.

    Each rule is filed under one index field (eventName, else eventSource, else
    userIdentity.type) and the values it requires there; rules without such a requirement run
    on every event. The candidates of an event depend only on its index values, so they are
    computed once per distinct combination and cached: the per-event cost is a few dict look-ups
    plus the rules that can fire, whatever the number of rules in the pack.
    """

    indexes: list[tuple[str, tuple[str, ...], dict[str, list[_Entry]]]]
    unindexed: list[_Entry]
    entries: list[_Entry]
    correlations: list[tuple[CorrelationRule, dict[str, list[Any]]]]
    cache: dict[tuple[Any, ...], tuple[_Entry, ...]] = field(default_factory=dict)
    key_of: Any = None  # record -> its raw index values, built for the index fields in use

    def __post_init__(self) -> None:
        readers = [_raw_reader(path) for _, path, _ in self.indexes]
        if len(readers) == 1:
            (r0,) = readers
            self.key_of = lambda record: (r0(record),)
        elif len(readers) == 2:
            r0, r1 = readers
            self.key_of = lambda record: (r0(record), r1(record))
        elif len(readers) == 3:
            r0, r1, r2 = readers
            self.key_of = lambda record: (r0(record), r1(record), r2(record))
        else:
            self.key_of = lambda record: tuple(r(record) for r in readers)

    def candidates(self, record: Mapping[str, Any]) -> tuple[_Entry, ...]:
        """The entries that may fire on a record, from its index values."""
        key = self.key_of(record)
        cacheable = True
        for value in key:
            if value is not None and type(value) is not str:
                cacheable = False
        if cacheable:
            found = self.cache.get(key)
            if found is not None:
                return found
        view = None if cacheable else EventView(record)
        chosen: dict[int, _Entry] = {e.order: e for e in self.unindexed}
        for (name, _, by_value), raw in zip(self.indexes, key, strict=True):
            if raw is None:
                continue
            lowered = (raw.lower(),) if isinstance(raw, str) else (view.lowered(name) if view else ())
            for value in lowered:
                for entry in by_value.get(value, ()):
                    chosen[entry.order] = entry
        result = tuple(chosen[k] for k in sorted(chosen))
        if cacheable:
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
            self.cache[key] = result
        return result


class RulePack:
    """Compiled rules plus their enabled state and a per-rule error report.

    `evaluate` runs every enabled rule over the records; a rule that raises on some record is
    reported in `errors` and the other rules carry on.
    """

    def __init__(
        self,
        rules: Iterable[CompiledRule] = (),
        errors: Iterable[RuleError] = (),
        suppressions: Suppressions | None = None,
    ) -> None:
        # Known noise (deployment tools, AWS services): matches it covers are not hits and do
        # not count in correlations. See acso_shared.hunting.suppression; defaults unless given.
        self.suppressions = suppressions if suppressions is not None else Suppressions.defaults()
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

    @property
    def behaviours(self) -> dict[str, NewBehaviour]:
        """The enabled new-behaviour rules (see `acso_shared.hunting.behaviour`), by rule id."""
        return {
            rule_id: rule.new_behaviour
            for rule_id, rule in self._rules.items()
            if isinstance(rule, EventRule) and rule.new_behaviour is not None and rule_id not in self._disabled
        }

    @property
    def correlation_span_s(self) -> float:
        """The longest timespan of the enabled correlations (0 without any): how far back a hunt
        must look at already-hunted events for correlation state to carry across windows."""
        spans = [c.timespan_s for c, _ in self._build_plan().correlations]
        return max(spans, default=0.0)

    def evaluate(self, events: Iterable[Mapping[str, Any]], *, context: Iterable[Mapping[str, Any]] = ()) -> list[Hit]:
        """Run every enabled rule over the records, in one pass; correlations fire at the end.

        `context` holds events hunted before (an earlier window's): they feed correlations only,
        so a burst split across two windows is caught, and a correlation hit made of context
        events alone (already reported) is left out. Single-event rules never fire on context.
        """
        plan = self._build_plan()
        for entry in plan.entries:
            for bucket in entry.buckets:
                bucket.clear()
        correlations = plan.correlations
        quiet = self._suppression_check()
        context_ids: set[str] = set()
        if plan.correlations:
            self._feed_context(plan, context, context_ids, quiet)
        hits: list[Hit] = []
        candidates_of = plan.candidates
        for record in events:
            if type(record) is not dict and not isinstance(record, Mapping):
                self._runtime_error(INPUT_SOURCE, "event_not_object", f"an event is a {type(record).__name__}")
                continue
            candidates = candidates_of(record)
            if not candidates:
                continue
            view = EventView(record)
            for entry in candidates:
                try:
                    matched = entry.predicate(view)
                except Exception as err:  # a defective rule must never stop the others
                    self._runtime_error(entry.rule.meta.id, "rule_failed", f"{type(err).__name__}: {err}")
                    continue
                if matched and not (quiet is not None and quiet(entry.rule_id, record)):
                    if entry.emit:
                        hits.append(make_hit(entry.rule.meta, [record]))
                    for bucket in entry.buckets:
                        bucket.append(view)
        for correlation, matches in correlations:
            try:
                outcome = correlation.evaluate(matches)
                if context_ids:
                    outcome.hits[:] = [
                        h for h in outcome.hits if not h.event_ids or not set(h.event_ids) <= context_ids
                    ]
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

    def _feed_context(
        self,
        plan: _Plan,
        context: Iterable[Mapping[str, Any]],
        ids: set[str],
        quiet: Callable[[str, Mapping[str, Any]], bool] | None,
    ) -> None:
        """Context events into the correlation buckets only."""
        for record in context:
            if not isinstance(record, Mapping):
                continue
            event_id = record.get("eventID")
            if isinstance(event_id, str):
                ids.add(event_id)
            candidates = [e for e in plan.candidates(record) if e.buckets]
            if not candidates:
                continue
            view = EventView(record)
            for entry in candidates:
                try:
                    matched = entry.rule.predicate(view)
                except Exception:  # noqa: S112 - reported when the rule fails on a hunted event
                    continue
                if matched and not (quiet is not None and quiet(entry.rule.meta.id, record)):
                    for bucket in entry.buckets:
                        bucket.append(view)

    def _suppression_check(self) -> Callable[[str, Mapping[str, Any]], bool] | None:
        """Whether a match of a rule (or of a correlation's base rule) is suppressed; None: none set.

        Same answer as `Suppressions.suppresses`, faster: suppressions for every rule are
        decided once per event, and cached by the fields suppressions read (principal and
        session-issuer ARNs, user agent, invokedBy, identity type, accounts, source address), which
        repeat across a trail's events; rule-specific ones are tried only for their rules.
        """
        if not len(self.suppressions):
            return None
        parents = {
            base.meta.id: rule.meta.id
            for rule in self._rules.values()
            if isinstance(rule, CorrelationRule)
            for base in rule.base_rules
        }
        everywhere = tuple(s for s in self.suppressions.items if not s.rules)
        by_rule: dict[str, tuple[Suppression, ...]] = {}
        for item in self.suppressions.items:
            for rule_id in item.rules:
                by_rule[rule_id] = (*by_rule.get(rule_id, ()), item)
        verdicts: dict[tuple[Any, ...], bool] = {}
        last: list[Any] = [None, False]  # the last record seen and its verdict for every rule

        def global_verdict(record: Mapping[str, Any]) -> bool:
            if last[0] is record:
                return bool(last[1])
            key = _suppression_key(record)
            verdict = verdicts.get(key) if key is not None else None
            if verdict is None:
                verdict = any(item.applies_to(record) for item in everywhere)
                if key is not None:
                    if len(verdicts) >= _CACHE_LIMIT:
                        verdicts.clear()
                    verdicts[key] = verdict
            last[0], last[1] = record, verdict
            return verdict

        def quiet(rule_id: str, record: Mapping[str, Any]) -> bool:
            if everywhere and global_verdict(record):
                return True
            parent = parents.get(rule_id)
            for one in (rule_id, parent) if parent else (rule_id,):
                if any(item.applies_to(record) for item in by_rule.get(one, ())):
                    return True
            return False

        return quiet

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
                entries.append(_Entry(rule, emit=True, order=len(entries)))
                continue
            matches: dict[str, list[Any]] = {}
            for base in rule.base_rules:
                bucket: list[Any] = []
                matches[base.meta.id] = bucket
                entries.append(_Entry(base, emit=rule.generate, order=len(entries), buckets=[bucket]))
            correlations.append((rule, matches))
        by_field: dict[str, dict[str, list[_Entry]]] = {}
        unindexed: list[_Entry] = []
        for entry in entries:
            if entry.rule.index_keys is None:
                unindexed.append(entry)
            else:
                target = by_field.setdefault(entry.rule.index_field, {})
                for value in entry.rule.index_keys:
                    target.setdefault(value, []).append(entry)
        indexes = [(name, tuple(name.split(".")), values) for name, values in by_field.items()]
        self._plan = _Plan(indexes, unindexed, entries, correlations)
        return self._plan


def _raw_reader(path: tuple[str, ...]) -> Any:
    """A reader of the raw value at a dotted path of plain dicts (None when absent)."""
    if len(path) == 1:
        (name,) = path
        return lambda record: record.get(name) if type(record) is dict else None
    if len(path) == 2:
        first, second = path

        def two(record: Any) -> Any:
            node = record.get(first) if type(record) is dict else None
            return node.get(second) if type(node) is dict else None

        return two

    def walk(record: Any) -> Any:
        node = record
        for part in path:
            node = node.get(part) if type(node) is dict else None
        return node

    return walk


def _suppression_key(record: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The fields a suppression decides on (see `acso_shared.hunting.suppression`), or None when one
    is not a plain value (then the verdict is not cached)."""
    identity = record.get("userIdentity")
    identity = identity if type(identity) is dict else {}
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if type(context) is dict else None
    key = (
        identity.get("arn"),
        issuer.get("arn") if type(issuer) is dict else None,
        record.get("userAgent"),
        identity.get("invokedBy"),
        identity.get("type"),
        record.get("recipientAccountId"),
        identity.get("accountId"),
        record.get("sourceIPAddress"),
    )
    for value in key:
        if value is not None and type(value) is not str:
            return None
    return key


def builtin_rule_texts() -> dict[str, str]:
    """The YAML texts of the built-in CloudTrail rule pack (`rules/`, and its folders per ATT&CK
    tactic), keyed by file name."""
    texts: dict[str, str] = {}
    pending = [resources.files("acso_shared.hunting") / "rules"]
    while pending:
        folder = pending.pop()
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.is_dir():
                pending.append(item)
            elif item.name.endswith((".yml", ".yaml")):
                texts[item.name] = item.read_text(encoding="utf-8")
    return dict(sorted(texts.items()))


def load_builtin_rules() -> RulePack:
    """Compile the built-in CloudTrail rule pack. A rule that fails is listed in `errors`."""
    return RulePack.from_texts(builtin_rule_texts())
