"""Regenerate the ATT&CK cloud catalog from MITRE's official STIX 2.1 bundle.

    python devtools/build_attack_data.py path/to/enterprise-attack.json

The bundle is https://github.com/mitre-attack/attack-stix-data (enterprise-attack/enterprise-attack.json,
or a versioned enterprise-attack-16.1.json). Selected: techniques that are neither revoked nor
deprecated and run on `--platform` (IaaS by default), plus every technique the AWS overlay maps.
Ids, names, tactics, platforms and data components come from the bundle; the AWS services and
CloudTrail events come from aws_overlay.json, ACSO's own mapping (ATT&CK does not carry one).
Overlay ids that the bundle no longer has are reported, so a rename or revocation is noticed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
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


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", []):
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def _live(obj: dict[str, Any]) -> bool:
    return not obj.get("revoked", False) and not obj.get("x_mitre_deprecated", False)


def _id_key(technique_id: str) -> list[int]:
    return [int(part) for part in technique_id[1:].split(".")]


def build(
    bundle: dict[str, Any], overlay: dict[str, Any], platforms: set[str], source_note: str
) -> tuple[dict[str, Any], list[str]]:
    """The catalog document and the overlay ids missing from the bundle."""
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
            component = by_id.get(rel["source_ref"])
            if component is not None and _live(component):
                source = by_id.get(component.get("x_mitre_data_source_ref", ""), {})
                label = f"{source['name']}: {component['name']}" if source else component["name"]
                components[rel["target_ref"]].add(label)
        elif rel["relationship_type"] == "subtechnique-of":
            parents[rel["source_ref"]] = rel["target_ref"]

    mapped: dict[str, Any] = overlay.get("techniques", {})
    techniques = []
    for obj in objects:
        if obj.get("type") != "attack-pattern" or not _live(obj):
            continue
        tid = _attack_id(obj)
        obj_platforms = list(obj.get("x_mitre_platforms", []))
        if tid is None or (tid not in mapped and not platforms.intersection(obj_platforms)):
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
                "aws": mapped.get(tid),
            }
        )
    techniques.sort(key=lambda t: _id_key(t["id"]))
    found = {t["id"] for t in techniques}
    missing = sorted((tid for tid in mapped if tid not in found), key=_id_key)
    doc = {
        "schema_version": 1,
        "attack": {"domain": "enterprise-attack", "version": version, "provenance": source_note},
        "scope": SCOPE,
        "tactics": tactics,
        "techniques": techniques,
    }
    return doc, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "bundle", type=Path, help="enterprise-attack.json (STIX 2.1) from mitre-attack/attack-stix-data"
    )
    parser.add_argument("--overlay", type=Path, default=DATA_DIR / "aws_overlay.json")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "attack_cloud.json")
    parser.add_argument("--platform", action="append", default=None, help="ATT&CK platform to include (repeatable)")
    args = parser.parse_args(argv)
    raw = args.bundle.read_bytes()
    note = f"built from {args.bundle.name} sha256:{hashlib.sha256(raw).hexdigest()[:16]}"
    doc, missing = build(json.loads(raw), json.loads(args.overlay.read_text()), set(args.platform or ["IaaS"]), note)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(doc['techniques'])} techniques, ATT&CK {doc['attack']['version']}, to {args.out}")
    for tid in missing:
        print(f"warning: overlay maps {tid}, which the bundle no longer has (revoked, deprecated or renumbered)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
