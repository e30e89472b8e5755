"""MITRE ATT&CK technique ids for alerts.

Two sources, merged: (1) ids the payload states explicitly (OCSF `attacks[]`, ASFF `Types`,
Splunk `mitre_technique_id`, the generic `attack_techniques`), and (2) a mapping table from
GuardDuty finding types. GuardDuty types read `ThreatPurpose:ResourceType/ThreatFamily.Mechanism!Artifact`;
the table is matched with shell-style patterns, most specific first, and the first hit wins.
Types no pattern covers fall back to their threat purpose, or to nothing when the purpose says
too little (`Policy`, `Impact`, `Behavior`): no technique is better than a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

_TECHNIQUE_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])T\d{4}(?:\.\d{3})?(?![0-9])")

#: (GuardDuty finding type pattern, techniques). Order matters: first match wins.
GUARDDUTY_TYPE_TECHNIQUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*", ("T1552.005", "T1078.004")),
    ("UnauthorizedAccess:EC2/MetadataDNSRebind", ("T1552.005",)),
    ("UnauthorizedAccess:*/Tor*", ("T1090.003",)),
    ("UnauthorizedAccess:EC2/SSHBruteForce", ("T1110",)),
    ("UnauthorizedAccess:EC2/RDPBruteForce", ("T1110",)),
    ("Impact:EC2/WinRMBruteForce", ("T1110",)),
    ("UnauthorizedAccess:IAMUser/ConsoleLogin*", ("T1078.004",)),
    ("UnauthorizedAccess:IAMUser/*", ("T1078.004",)),
    ("UnauthorizedAccess:S3/*", ("T1078.004",)),
    ("CryptoCurrency:*", ("T1496",)),
    ("Impact:EC2/BitcoinDomainRequest.Reputation", ("T1496",)),
    ("Impact:EC2/PortSweep", ("T1046",)),
    ("Impact:EC2/AbusedDomainRequest.Reputation", ("T1071.004",)),
    ("Impact:EC2/MaliciousDomainRequest.Reputation", ("T1071.004",)),
    ("Impact:S3/AnomalousBehavior.Delete", ("T1485",)),
    ("Impact:S3/AnomalousBehavior.Permission", ("T1222",)),
    ("Impact:S3/AnomalousBehavior.Write", ("T1565",)),
    ("Recon:EC2/Portscan", ("T1046",)),
    ("Recon:EC2/PortProbe*", ("T1595",)),
    ("Recon:IAMUser/*", ("T1580", "T1087.004")),
    ("Discovery:IAMUser/*", ("T1580", "T1087.004")),
    ("Discovery:S3/*", ("T1619",)),
    ("Discovery:Kubernetes/*", ("T1613",)),
    ("Exfiltration:S3/*", ("T1530",)),
    ("Exfiltration:IAMUser/*", ("T1537",)),
    ("Policy:S3/Bucket*", ("T1530",)),
    ("Policy:S3/AccountBlockPublicAccessDisabled", ("T1530",)),
    ("Policy:IAMUser/RootCredentialUsage", ("T1078.004",)),
    ("Policy:Kubernetes/AnonymousAccessGranted", ("T1078.001",)),
    ("Stealth:IAMUser/CloudTrailLoggingDisabled", ("T1562.008",)),
    ("Stealth:S3/ServerAccessLoggingDisabled", ("T1562.008",)),
    ("Stealth:IAMUser/PasswordPolicyChange", ("T1556",)),
    ("Backdoor:*/DenialOfService.*", ("T1498",)),
    ("Backdoor:EC2/Spambot", ("T1071.003",)),
    ("Backdoor:*/C&CActivity*", ("T1071",)),
    ("Trojan:*/DNSDataExfiltration", ("T1048",)),
    ("Trojan:*/DGADomainRequest*", ("T1568.002",)),
    ("Trojan:*/DropPoint*", ("T1041",)),
    ("Trojan:*/BlackholeTraffic*", ("T1071",)),
    ("Trojan:*/DriveBySourceTraffic*", ("T1189",)),
    ("Trojan:*/PhishingDomainRequest*", ("T1566",)),
    ("PenTest:IAMUser/*", ("T1078.004",)),
    ("PrivilegeEscalation:IAMUser/*", ("T1098",)),
    ("PrivilegeEscalation:Runtime/*", ("T1068",)),
    ("Persistence:IAMUser/*", ("T1098",)),
    ("CredentialAccess:IAMUser/*", ("T1552",)),
    ("CredentialAccess:RDS/*", ("T1110",)),
    ("DefenseEvasion:IAMUser/*", ("T1562.008",)),
    ("DefenseEvasion:Runtime/*", ("T1562",)),
    ("InitialAccess:IAMUser/*", ("T1078.004",)),
    ("Execution:EC2/MaliciousFile*", ("T1204.002",)),
    ("Execution:*/MaliciousFile*", ("T1204.002",)),
    ("Execution:Runtime/ReverseShell", ("T1059",)),
)

#: Threat purpose fallbacks for types the table above does not name.
GUARDDUTY_PURPOSE_TECHNIQUES: dict[str, tuple[str, ...]] = {
    "Backdoor": ("T1071",),
    "CryptoCurrency": ("T1496",),
    "CredentialAccess": ("T1552",),
    "DefenseEvasion": ("T1562",),
    "Discovery": ("T1580",),
    "Execution": ("T1059",),
    "Exfiltration": ("T1530",),
    "InitialAccess": ("T1078",),
    "PenTest": ("T1078",),
    "Persistence": ("T1098",),
    "PrivilegeEscalation": ("T1078",),
    "Recon": ("T1595",),
    "Stealth": ("T1562",),
    "Trojan": ("T1071",),
    "UnauthorizedAccess": ("T1078",),
}

_GUARDDUTY_TYPE = re.compile(r"^[A-Za-z]+:[A-Za-z0-9]+/\S+$")
# GuardDuty findings in ASFF carry their type as the last `Types` segment with `/` turned into `-`:
# "TTPs/Command and Control/UnauthorizedAccess:EC2-TorIPCaller".
_ASFF_GUARDDUTY_CLASSIFIER = re.compile(r"^([A-Za-z]+:[A-Za-z0-9]+)-(\S+)$")


def is_guardduty_type(value: str) -> bool:
    """True when `value` has the GuardDuty finding type syntax."""
    return _GUARDDUTY_TYPE.match(value) is not None


def techniques_for_guardduty_type(finding_type: str) -> list[str]:
    """Techniques for a GuardDuty finding type: the first table match, else the purpose fallback."""
    for pattern, techniques in GUARDDUTY_TYPE_TECHNIQUES:
        if fnmatchcase(finding_type, pattern):
            return list(techniques)
    purpose = finding_type.split(":", 1)[0]
    return list(GUARDDUTY_PURPOSE_TECHNIQUES.get(purpose, ()))


def guardduty_type_from_asff_types(types: Iterable[str]) -> str | None:
    """The GuardDuty finding type hidden in ASFF `Types`, if any."""
    for entry in types:
        classifier = entry.rsplit("/", 1)[-1]
        match = _ASFF_GUARDDUTY_CLASSIFIER.match(classifier)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


def techniques_in_text(value: str) -> list[str]:
    """Explicit technique ids written in free text, e.g. `TTPs/Credential Access/T1552.005`."""
    return _TECHNIQUE_IN_TEXT.findall(value)


def merge(*groups: Iterable[str]) -> list[str]:
    """Technique ids, deduplicated and sorted (stable output for fingerprints and tests)."""
    return sorted({t.upper() for group in groups for t in group})
