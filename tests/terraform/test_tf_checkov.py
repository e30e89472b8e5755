"""Specs: checkov finds nothing in terraform/, and every skip says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.terraform_check.checkov import parse_report, run_checkov
from devtools.terraform_check.models import Check
from devtools.terraform_check.runner import TERRAFORM_DIR

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

SKIP = re.compile(r"#checkov:skip=([A-Z0-9_]+)(:?)(.*)")


def test_checkov_reports_no_failed_check_on_terraform() -> None:
    assert run_checkov() == []


def test_every_checkov_skip_names_a_check_and_gives_a_reason() -> None:
    skips = [(tf, m) for tf in TERRAFORM_DIR.rglob("*.tf") for m in SKIP.finditer(tf.read_text())]
    assert skips, "the tree is expected to carry documented skips"
    for tf, match in skips:
        assert match.group(2) == ":", f"{tf}: {match.group(0)}"
        assert len(match.group(3).strip()) >= 20, f"{tf}: {match.group(0)}"


def test_a_failed_check_in_a_report_becomes_a_finding(tmp_path: Path) -> None:
    report = {
        "check_type": "terraform",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_AWS_18",
                    "check_name": "access logging",
                    "file_path": "/m/main.tf",
                    "resource": "aws_s3_bucket.b",
                }
            ],
            "skipped_checks": [{"check_id": "CKV_AWS_144"}],
        },
    }
    findings = parse_report(report, tmp_path, tmp_path)
    assert [(f.check, f.file, f.address, f.message) for f in findings] == [
        (Check.CHECKOV, "m/main.tf", "aws_s3_bucket.b", "CKV_AWS_18: access logging")
    ]
