"""The ATT&CK cloud catalog shipped as data/attack_cloud.json: look-ups for triage, playbooks and reports."""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from importlib import resources

from pydantic import BaseModel, Field

from acso_shared.errors import NotFound

TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


class Tactic(BaseModel):
    id: str = Field(pattern=r"^TA\d{4}$")
    shortname: str
    name: str


class AwsEvent(BaseModel):
    """One CloudTrail (eventSource, eventName) pair that really exists, and who maps it to the technique."""

    event_source: str
    event_name: str
    # "rule": a built-in rule watching the event is tagged with the technique; "attack": MITRE's
    # analytics name the event for the technique; "acso": ACSO's overlay does
    from_: list[str] = Field(alias="from", default_factory=list)


class AwsMapping(BaseModel):
    """Where the technique shows in AWS: service prefixes, CloudTrail `eventSource` and `eventName`
    values, and the exact pairs (`events`) the look-up uses."""

    services: list[str]
    event_sources: list[str]
    event_names: list[str]
    events: list[AwsEvent] = Field(default_factory=list)


class Technique(BaseModel):
    id: str = Field(pattern=TECHNIQUE_ID.pattern)
    name: str
    is_subtechnique: bool
    parent_id: str | None = None
    parent_name: str | None = None
    tactics: list[str]
    platforms: list[str]
    data_components: list[str]
    url: str
    aws: AwsMapping | None = None

    @property
    def display_name(self) -> str:
        """`Valid Accounts: Cloud Accounts`, the way ATT&CK writes a sub-technique."""
        return f"{self.parent_name}: {self.name}" if self.parent_name else self.name


class AttackRelease(BaseModel):
    domain: str
    version: str
    provenance: str


class AttackData(BaseModel):
    """The file format of attack_cloud.json."""

    schema_version: int
    attack: AttackRelease
    scope: str
    tactics: list[Tactic]
    techniques: list[Technique]


class AttackCatalog:
    """Indexed, read-only view of the data file."""

    def __init__(self, data: AttackData) -> None:
        self.release = data.attack
        self.tactics = {t.shortname: t for t in data.tactics}
        self._tactics_by_id = {t.id: t for t in data.tactics}
        self._techniques = {t.id: t for t in data.techniques}
        # Only pairs that really exist (the build checks them against the services' APIs): never
        # every source of a technique with every name.
        self._by_event: dict[tuple[str, str], list[tuple[int, Technique]]] = defaultdict(list)
        for tech in data.techniques:
            if tech.aws is None:
                continue
            for event in tech.aws.events:
                origins = set(event.from_)
                rank = (
                    0 if "rule" in origins else 1 if {"attack", "acso"} <= origins else 2 if "attack" in origins else 3
                )
                self._by_event[(event.event_source, event.event_name)].append((rank, tech))

    def __len__(self) -> int:
        return len(self._techniques)

    def technique(self, technique_id: str) -> Technique:
        """A technique by id (T1078.004); `NotFound("attack_technique_unknown")` if not in the catalog."""
        try:
            return self._techniques[technique_id.upper()]
        except KeyError:
            raise NotFound("attack_technique_unknown", f"{technique_id} is not in the ATT&CK cloud catalog") from None

    def tactic(self, key: str) -> Tactic:
        """A tactic by id (TA0005) or shortname (defense-evasion)."""
        found = self._tactics_by_id.get(key.upper()) or self.tactics.get(key.lower())
        if found is None:
            raise NotFound("attack_tactic_unknown", f"{key} is not an ATT&CK Enterprise tactic")
        return found

    def techniques(self, *, tactic: str | None = None) -> list[Technique]:
        """All techniques in id order, or those of one tactic (id or shortname)."""
        items = sorted(self._techniques.values(), key=lambda t: [int(x) for x in t.id[1:].split(".")])
        if tactic is None:
            return items
        shortname = self.tactic(tactic).shortname
        return [t for t in items if shortname in t.tactics]

    def for_cloudtrail_event(self, event_source: str, event_name: str) -> list[Technique]:
        """Techniques a CloudTrail record (`eventSource`, `eventName`) can be evidence of: the tags of
        the built-in rules that watch the event first, then what both MITRE's analytics and ACSO's
        overlay name, then MITRE's, then ACSO's; within each, the most specific first."""
        found = self._by_event.get((event_source, event_name), [])
        ranked = sorted(found, key=lambda rt: (rt[0], not rt[1].is_subtechnique, rt[1].id))
        return [tech for _, tech in ranked]


@cache
def load_catalog() -> AttackCatalog:
    """The catalog shipped with this package (parsed once per process)."""
    text = resources.files("acso_threat_hunter.attack").joinpath("data/attack_cloud.json").read_text("utf-8")
    return AttackCatalog(AttackData.model_validate_json(text))
