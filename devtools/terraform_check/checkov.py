"""checkov over `terraform/`, from its own virtual environment (it pins an old boto3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from devtools.terraform_check.models import Check, Finding
from devtools.terraform_check.schema import REPO_ROOT

CHECKOV_VERSION = "3.3.30"
VENV_DIR = REPO_ROOT / ".venv-checkov"


def ensure_checkov(venv: Path = VENV_DIR, version: str = CHECKOV_VERSION) -> Path:
    """The checkov executable of `venv`, installing the pinned version first if it is missing."""
    exe = venv / "bin" / "checkov"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    if not exe.exists() or not list(venv.glob(f"lib/python*/site-packages/checkov-{version}.dist-info")):
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"checkov=={version}"]
        subprocess.run(pip, check=True)  # noqa: S603
    return exe


def parse_report(report: Any, root: Path, directory: Path) -> list[Finding]:
    """Failed checks (and parsing errors) of a checkov JSON report; skipped checks are not findings."""
    findings: list[Finding] = []
    for section in report if isinstance(report, list) else [report]:
        results = section.get("results", {})
        for failed in results.get("failed_checks", []):
            path = (directory / str(failed.get("file_path", "")).lstrip("/")).resolve()
            rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            message = f"{failed.get('check_id')}: {failed.get('check_name')}"
            findings.append(Finding(Check.CHECKOV, rel, str(failed.get("resource", "-")), message))
        for error in results.get("parsing_errors", []):
            findings.append(Finding(Check.CHECKOV, str(error), "-", "checkov could not parse this file"))
    return findings


def run_checkov(directory: Path = REPO_ROOT / "terraform", root: Path = REPO_ROOT) -> list[Finding]:
    """Run checkov on `directory` and return its failed checks.

    `--skip-download`: no Prisma Cloud calls (guidelines, custom policies), so it runs offline.
    """
    exe = ensure_checkov()
    cmd = [str(exe), "-d", str(directory), "--framework", "terraform", "-o", "json", "--quiet", "--compact"]
    proc = subprocess.run([*cmd, "--skip-download"], capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode not in (0, 1):  # 1 means "some checks failed"; anything else is a crash
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout) if proc.stdout.strip() else []
    if isinstance(report, dict) and "check_type" not in report:  # no resources at all: a summary only
        return []
    return parse_report(report, root, directory)
