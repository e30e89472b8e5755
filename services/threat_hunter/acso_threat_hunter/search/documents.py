"""The documents the local knowledge base holds: ATT&CK techniques, incident-response runbooks and
the prose of imported intel (STIX SDO descriptions, MISP event info). Pure functions, no I/O
except reading the runbook folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from acso_threat_hunter.attack.catalog import AttackCatalog
from acso_threat_hunter.intel.models import FeedFormat

from .models import Document, DocumentKind

# STIX SDOs whose descriptions are worth searching (indicators are served by the intel API).
_STIX_PROSE = frozenset(
    {"report", "threat-actor", "intrusion-set", "campaign", "malware", "tool", "attack-pattern", "vulnerability"}
)
MAX_BODY_CHARS = 100_000


def attack_documents(catalog: AttackCatalog) -> list[Document]:
    """One document per technique: name, tactics, data components and the CloudTrail events that show it."""
    docs: list[Document] = []
    for tech in catalog.techniques():
        tactics = ", ".join(catalog.tactic(t).name for t in tech.tactics)
        lines = [
            f"{tech.id} {tech.display_name}.",
            f"Tactics: {tactics}.",
            f"Platforms: {', '.join(tech.platforms)}.",
        ]
        if tech.data_components:
            lines.append(f"Data components: {', '.join(tech.data_components)}.")
        if tech.aws is not None:
            lines.append(f"AWS services: {', '.join(tech.aws.services)}.")
            lines.append(f"CloudTrail events: {', '.join(tech.aws.event_names)} ({', '.join(tech.aws.event_sources)}).")
        docs.append(
            Document(
                id=f"attack:{tech.id}",
                kind=DocumentKind.ATTACK,
                title=f"{tech.id} {tech.display_name}",
                body="\n".join(lines),
                source=f"mitre-attack {catalog.release.version}",
                uri=tech.url,
            )
        )
    return docs


def runbook_documents(folder: Path) -> list[Document]:
    """One document per playbook file (`*.yml`/`*.yaml`); the title is its `name`/`title` or the file name."""
    if not folder.is_dir():
        return []
    docs: list[Document] = []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        text = path.read_text(encoding="utf-8", errors="replace")
        title = path.stem.replace("_", " ")
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, dict):
            named = parsed.get("title") or parsed.get("name")
            if isinstance(named, str) and named.strip():
                title = named.strip()
        docs.append(
            Document(
                id=f"runbook:{path.stem}",
                kind=DocumentKind.RUNBOOK,
                title=title,
                body=text[:MAX_BODY_CHARS],
                source="incident-response playbooks",
                uri=path.name,
            )
        )
    return docs


def _stix_documents(bundle: Any, source: str) -> list[Document]:
    docs: list[Document] = []
    objects = bundle.get("objects") if isinstance(bundle, dict) else None
    for obj in objects or ():
        if not isinstance(obj, dict) or obj.get("type") not in _STIX_PROSE:
            continue
        name, description = obj.get("name"), obj.get("description")
        if not isinstance(name, str) or not isinstance(description, str) or not description.strip():
            continue
        docs.append(
            Document(
                id=f"intel:{obj.get('id')}",
                kind=DocumentKind.INTEL,
                title=f"{obj['type']}: {name}",
                body=description[:MAX_BODY_CHARS],
                source=source,
            )
        )
    return docs


def _misp_documents(data: Any, source: str) -> list[Document]:
    event = data.get("Event", data) if isinstance(data, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("info"), str):
        return []
    parts = [event["info"]]
    for attribute in event.get("Attribute") or ():
        if isinstance(attribute, dict) and isinstance(attribute.get("comment"), str) and attribute["comment"]:
            parts.append(attribute["comment"])
    for tag in event.get("Tag") or ():
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            parts.append(tag["name"])
    return [
        Document(
            id=f"intel:misp:{event.get('uuid') or event['info']}",
            kind=DocumentKind.INTEL,
            title=f"MISP event: {event['info']}",
            body="\n".join(parts)[:MAX_BODY_CHARS],
            source=source,
        )
    ]


def intel_feed_documents(fmt: FeedFormat, content: bytes, source: str) -> list[Document]:
    """The searchable prose of an imported feed (the importer validated it already); none for plain/CSV."""
    if fmt not in (FeedFormat.STIX, FeedFormat.TAXII, FeedFormat.MISP):
        return []
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return []
    return _misp_documents(data, source) if fmt is FeedFormat.MISP else _stix_documents(data, source)
