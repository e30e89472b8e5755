"""Community packs: a SigmaHQ release as a folder, zip or tar, sorted into imported, skipped and failed."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from acso_shared.errors import Invalid
from acso_shared.hunting.packs import ImportOutcome, import_pack, read_pack

pytestmark = pytest.mark.unit

# Shaped like SigmaHQ's rules/cloud/aws/cloudtrail/*.yml and rules/windows/... files.
CLOUDTRAIL = """title: AWS CloudTrail Important Change
id: 4db60cc0-36fb-42b7-9b58-a5b53019fb74
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    selection_source:
        eventSource: cloudtrail.amazonaws.com
        eventName: [StopLogging, UpdateTrail, DeleteTrail]
    condition: selection_source
level: medium
tags:
    - attack.defense-evasion
    - attack.t1562.008
"""
WINDOWS = """title: Suspicious Process
id: 11111111-2222-4333-8444-555555555555
logsource:
    product: windows
    category: process_creation
detection:
    selection: {Image|endswith: '\\\\evil.exe'}
    condition: selection
level: high
"""
BROKEN = """title: Broken CloudTrail Rule
id: 22222222-3333-4444-8555-666666666666
logsource: {product: aws, service: cloudtrail}
detection:
    selection: {userAgent|re: '(?<=x)y'}
    condition: selection
"""
LINTED = """title: Never Matches
id: 33333333-4444-4555-8666-777777777777
logsource: {product: aws, service: cloudtrail}
detection:
    selection: {requestParameters: foo}
    condition: selection
"""
FILES = {
    "sigma/version.txt": "r2026-11-02\n",
    "sigma/rules/cloud/aws/cloudtrail/aws_cloudtrail_disable_logging.yml": CLOUDTRAIL,
    "sigma/rules/windows/process_creation/proc_creation_win_evil.yml": WINDOWS,
    "sigma/rules/cloud/aws/cloudtrail/aws_broken.yml": BROKEN,
    "sigma/rules/cloud/aws/cloudtrail/aws_linted.yml": LINTED,
    "sigma/README.md": "not a rule",
}


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in FILES.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def tarred() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in FILES.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def folder(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("form", ["zip", "tar", "folder"])
def test_every_file_of_a_pack_gets_its_own_result(form: str, tmp_path: Path) -> None:
    source = {"zip": zipped, "tar": tarred}.get(form, lambda: folder(tmp_path))()
    outcome = import_pack(read_pack(source))

    by_file = {r.file.rsplit("/", 1)[-1]: r for r in outcome.results}
    assert outcome.version == "r2026-11-02"
    assert outcome.counts == {"imported": 2, "skipped": 1, "failed": 1}
    assert by_file["aws_cloudtrail_disable_logging.yml"].outcome is ImportOutcome.IMPORTED
    assert by_file["aws_cloudtrail_disable_logging.yml"].rule_id == "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
    skipped = by_file["proc_creation_win_evil.yml"]
    assert (skipped.outcome, skipped.code) == (ImportOutcome.SKIPPED, "logsource_not_cloudtrail")
    assert "windows" in (skipped.message or "")
    failed = by_file["aws_broken.yml"]
    assert (failed.outcome, failed.code) == (ImportOutcome.FAILED, "sigma_regex_unsupported")
    linted = by_file["aws_linted.yml"]
    assert linted.outcome is ImportOutcome.IMPORTED
    assert [f.code for f in linted.lint] == ["field_is_object"]
    assert {r.file for r in outcome.rules} == {r.file for r in outcome.results if r.outcome is ImportOutcome.IMPORTED}


def test_a_pack_without_version_file_takes_the_given_version() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rules/a.yml", CLOUDTRAIL)
    assert import_pack(read_pack(buffer.getvalue()), version="v1").version == "v1"
    assert import_pack(read_pack(buffer.getvalue())).version == "unversioned"


def test_archive_paths_that_climb_out_are_ignored() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil.yml", CLOUDTRAIL)
        archive.writestr("ok/rule.yml", CLOUDTRAIL)
    assert list(read_pack(buffer.getvalue()).files) == ["ok/rule.yml"]


def test_a_body_that_is_no_archive_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        read_pack(b"this is not an archive")
    assert caught.value.code == "pack_invalid"


def test_the_same_rule_id_twice_in_a_pack_fails_the_second() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/one.yml", CLOUDTRAIL)
        archive.writestr("b/two.yml", CLOUDTRAIL)
    outcome = import_pack(read_pack(buffer.getvalue()))
    assert [r.outcome for r in outcome.results] == [ImportOutcome.IMPORTED, ImportOutcome.FAILED]
    assert outcome.results[1].code == "rule_exists"
