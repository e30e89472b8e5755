"""Shared value types of the Terraform checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Check(StrEnum):
    """Which check produced a finding."""

    PARSE = "parse"
    REFERENCE = "reference"
    MODULE_CALL = "module_call"
    SCHEMA = "schema"
    CHECKOV = "checkov"
    CONSISTENCY = "consistency"
    IAM = "iam"
    DEPLOY = "deploy"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem found in `terraform/`, located by file (relative to the repo root) and address."""

    check: Check
    file: str
    address: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.file}: {self.address}: {self.message}"
