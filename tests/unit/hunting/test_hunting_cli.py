"""`acso rules lint` and `acso hunt` over local files, as a detection engineer runs them."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from acso_shared.cli import main
from acso_shared.hunting.cli import cmd_hunt, cmd_rules_lint
from acso_shared.hunting.trail_files import KeyFilter, TrailKey, is_digest

pytestmark = pytest.mark.unit

ORG_KEY = (
    "AWSLogs/o-aa111bb222/111122223333/CloudTrail/us-east-1/2026/11/20/"
    "111122223333_CloudTrail_us-east-1_20261120T0905Z_Ab12Cd34.json.gz"
)
RULE = """title: Trail stopped (spec)
id: 6a0d8b7c-0e1f-4a2b-9c3d-4e5f6a7b8c9d
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging}
  condition: sel
level: high
tags: [attack.defense-evasion, attack.t1562.008]
"""


def event(event_id: str, name: str = "StopLogging", account: str = "111122223333") -> dict[str, Any]:
    # A CloudTrail management event as delivered (AWS CloudTrail User Guide, record contents).
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/mallory", "accountId": account},
        "eventTime": "2026-11-20T09:05:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.24",
        "requestParameters": {"name": "main"},
        "eventID": event_id,
        "recipientAccountId": account,
    }


def synced_bucket(root: Path) -> Path:
    """The tree `aws s3 sync s3://trail-bucket .` leaves: an organization trail and its digests."""
    logs = root / ORG_KEY
    logs.parent.mkdir(parents=True)
    logs.write_bytes(
        gzip.compress(json.dumps({"Records": [event("e-org-1"), event("e-org-2", "DescribeTrails")]}).encode())
    )
    other = root / ORG_KEY.replace("111122223333", "444455556666")
    other.parent.mkdir(parents=True)
    other.write_bytes(gzip.compress(json.dumps({"Records": [event("e-other", account="444455556666")]}).encode()))
    digest = (
        root / "AWSLogs/o-aa111bb222/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/x_CloudTrail-Digest_y.json.gz"
    )
    digest.parent.mkdir(parents=True)
    digest.write_bytes(gzip.compress(json.dumps({"Records": [event("e-digest")]}).encode()))
    return root


def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "trail_stopped.yml").write_text(RULE)
    return folder


def hunt(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    import argparse

    parser = argparse.ArgumentParser()
    from acso_shared.hunting.cli import register

    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["hunt", *argv])
    return cmd_hunt(args, out), out.getvalue()


def test_a_synced_trail_bucket_is_hunted_without_its_digest_files(tmp_path: Path) -> None:
    root = synced_bucket(tmp_path / "bucket")
    code, out = hunt(str(root), "--no-builtin", "--rules", str(rules_dir(tmp_path)))
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert sorted(h["event_ids"][0] for h in hits) == ["e-org-1", "e-other"]
    assert hits[0]["rule_id"] == "6a0d8b7c-0e1f-4a2b-9c3d-4e5f6a7b8c9d"
    assert hits[0]["level"] == "high"
    assert "attack.t1562.008" in hits[0]["tags"]


def test_organization_trail_files_are_picked_by_account_region_and_day(tmp_path: Path) -> None:
    root = synced_bucket(tmp_path / "bucket")
    rules = str(rules_dir(tmp_path))
    _, only_one = hunt(str(root), "--no-builtin", "--rules", rules, "--account", "111122223333")
    _, wrong_region = hunt(str(root), "--no-builtin", "--rules", rules, "--region", "eu-west-1")
    _, later_day = hunt(str(root), "--no-builtin", "--rules", rules, "--since", "2026-11-21")
    assert [json.loads(line)["event_ids"] for line in only_one.splitlines()] == [["e-org-1"]]
    assert wrong_region == ""
    assert later_day == ""


def test_ndjson_records_documents_and_gzip_are_read_and_a_table_is_printed(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_text(json.dumps(event("e-nd")) + "\n" + json.dumps(event("e-nd2", "GetTrail")) + "\n")
    (tmp_path / "b.json").write_text(json.dumps({"Records": [event("e-doc")]}))
    (tmp_path / "c.json.gz").write_bytes(gzip.compress(json.dumps(event("e-gz")).encode()))
    code, out = hunt(
        str(tmp_path / "a.ndjson"),
        str(tmp_path / "b.json"),
        str(tmp_path / "c.json.gz"),
        "--no-builtin",
        "--rules",
        str(rules_dir(tmp_path)),
        "--format",
        "table",
    )
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:3] == ["LEVEL", "RULE", "TITLE"]
    assert {"e-nd", "e-doc", "e-gz"} == {word for line in lines[1:-1] for word in line.split() if word.startswith("e-")}
    assert lines[-1] == "3 hit(s)"


def test_the_builtin_pack_runs_by_default(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"Records": [event("e-builtin")]}))
    code, out = hunt(str(tmp_path / "x.json"))
    assert code == 0
    assert any("e-builtin" in json.loads(line)["event_ids"] for line in out.splitlines())


def test_a_malformed_log_file_is_named_with_a_nonzero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text('{"Records": [ {"eventID": ')
    code, _ = hunt(str(tmp_path / "bad.json"), "--no-builtin")
    assert code == 2
    assert "bad.json" in capsys.readouterr().err


def test_lint_prints_findings_and_fails_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = rules_dir(tmp_path)
    (folder / "object.yml").write_text(
        RULE.replace("6a0d8b7c-0e1f-4a2b-9c3d-4e5f6a7b8c9d", "7b1e9c8d-1f20-4b3c-8d4e-5f6a7b8c9d0e").replace(
            "eventName: StopLogging", "requestParameters: foo"
        )
    )
    assert main(["rules", "lint", str(folder / "trail_stopped.yml")]) == 0
    capsys.readouterr()
    assert main(["rules", "lint", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "object.yml: error field_is_object [requestParameters]" in out


def test_lint_reports_a_rule_that_does_not_compile(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("title: x\ndetection: [")
    import argparse

    out = io.StringIO()
    assert cmd_rules_lint(argparse.Namespace(paths=[tmp_path], format="json"), out) == 1
    assert json.loads(out.getvalue())["code"] == "sigma_invalid"


def test_trail_keys_follow_cloudtrails_layout() -> None:
    parsed = TrailKey.parse("prefix/" + ORG_KEY)
    assert parsed is not None
    assert (parsed.organization, parsed.account, parsed.region, parsed.day) == (
        "o-aa111bb222",
        "111122223333",
        "us-east-1",
        date(2026, 11, 20),
    )
    plain = TrailKey.parse("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/01/02/f.json.gz")
    assert plain is not None
    assert plain.organization is None
    assert is_digest("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/02/f.json.gz")
    assert not KeyFilter().keeps("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/02/f.json.gz")
    assert KeyFilter().keeps("uploads/mine.ndjson")
    assert not KeyFilter(accounts=frozenset({"1"})).keeps("uploads/mine.ndjson")
