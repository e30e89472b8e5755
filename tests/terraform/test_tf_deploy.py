"""Specs: `make deploy` pushes to the ECR repositories recorded in the Terraform state."""

from __future__ import annotations

import pytest

from devtools.terraform_check.deploy import ecr_repository_urls

pytestmark = pytest.mark.terraform


def _repo(agent: str) -> dict[str, object]:
    return {
        "address": f'module.compute.aws_ecr_repository.this["{agent}"]',
        "mode": "managed",
        "index": agent,
        "values": {
            "repository_url": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/acso-dev-{agent.replace('_', '-')}"
        },
    }


def test_repository_urls_are_read_from_the_compute_module_state() -> None:
    # Given the state after the targeted ECR apply (the key's resources sit in another module)
    state = {
        "values": {
            "root_module": {
                "child_modules": [
                    {"address": "module.security", "resources": [{"address": "module.security.aws_kms_key.this"}]},
                    {"address": "module.compute", "resources": [_repo("threat_hunter"), _repo("supervisor")]},
                ]
            }
        }
    }
    # When the URLs are read, then each agent maps to its repository, in a stable order
    assert ecr_repository_urls(state) == {
        "supervisor": "123456789012.dkr.ecr.us-east-1.amazonaws.com/acso-dev-supervisor",
        "threat_hunter": "123456789012.dkr.ecr.us-east-1.amazonaws.com/acso-dev-threat-hunter",
    }


def test_an_empty_state_has_no_repositories() -> None:
    assert ecr_repository_urls({"values": {"root_module": {}}}) == {}
