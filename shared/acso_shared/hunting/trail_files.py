"""Where CloudTrail puts its log files, and how to pick the ones a hunt needs.

CloudTrail delivers to `bucket/[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`,
and an organization trail to `bucket/[prefix/]AWSLogs/<o-orgid>/<account>/CloudTrail/<region>/
YYYY/MM/DD/<file>`; files are named `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`.
Digest files (integrity validation) live under `.../CloudTrail-Digest/...` and are named
`..._CloudTrail-Digest_...json.gz`: they hold no events and are always skipped. (AWS CloudTrail User
Guide: "Finding your CloudTrail log files", "CloudTrail digest file structure".)

`TrailKey.parse` reads that layout from an S3 key or a local path (the tree `aws s3 sync` makes);
`KeyFilter` keeps the keys of some accounts, regions and days. Keys outside the layout (an
uploaded NDJSON, a file of one's own) are kept unless a filter asks for something they lack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

_LAYOUT = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<file>[^/]+)$"
)


def is_digest(key: str) -> bool:
    """Whether the key is a CloudTrail digest file (or under a digest folder)."""
    return "CloudTrail-Digest" in key


@dataclass(frozen=True, slots=True)
class TrailKey:
    """The parts of a key in CloudTrail's layout."""

    key: str
    account: str
    region: str
    day: date
    organization: str | None = None

    @classmethod
    def parse(cls, key: str) -> TrailKey | None:
        """The layout's parts, or None for a key outside it."""
        found = _LAYOUT.search(key.replace("\\", "/"))
        if found is None:
            return None
        try:
            day = date(int(found["y"]), int(found["m"]), int(found["d"]))
        except ValueError:
            return None
        return cls(key=key, account=found["account"], region=found["region"], day=day, organization=found["org"])


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """Which log files a hunt reads; an empty field selects everything."""

    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None

    @property
    def selective(self) -> bool:
        return bool(self.accounts or self.regions or self.since or self.until)

    def keeps(self, key: str) -> bool:
        """Whether to read this key: never a digest; in the layout, by account, region and day."""
        if is_digest(key):
            return False
        parsed = TrailKey.parse(key)
        if parsed is None:
            return not self.selective
        if self.accounts and parsed.account not in self.accounts:
            return False
        if self.regions and parsed.region not in self.regions:
            return False
        if self.since and parsed.day < self.since:
            return False
        return not (self.until and parsed.day > self.until)

    def select(self, keys: Iterable[str]) -> list[str]:
        """The kept keys, in order."""
        return [k for k in keys if self.keeps(k)]


def day_prefixes(root: str, organization: str | None, accounts: Iterable[str], regions: Iterable[str]) -> list[str]:
    """S3 prefixes that list only the selected accounts' and regions' files (fewer list calls)."""
    base = root.rstrip("/") + "/" if root else ""
    org = f"{organization}/" if organization else ""
    return [f"{base}AWSLogs/{org}{a}/CloudTrail/{r}/" for a in sorted(accounts) for r in sorted(regions)]
