"""Helpers `make deploy` calls between Terraform steps.

`python -m devtools.terraform_check.deploy ecr-urls < state.json` prints `<agent> <repository_url>`
lines from `terraform show -json`, so images are pushed to the repositories Terraform created
(read from the state: after a targeted apply, root outputs are not reliably refreshed).
"""

from __future__ import annotations

import json
import sys
from typing import Any

ECR_ADDRESS_PREFIX = "module.compute.aws_ecr_repository.this"


def _resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _resources(child)
    return found


def ecr_repository_urls(show_json: dict[str, Any]) -> dict[str, str]:
    """Agent (snake_case) -> ECR repository URL, from the `terraform show -json` state document."""
    root = show_json.get("values", {}).get("root_module", {})
    urls = {}
    for resource in _resources(root):
        address = str(resource.get("address", ""))
        if address.startswith(ECR_ADDRESS_PREFIX + "[") and resource.get("mode") == "managed":
            urls[str(resource["index"])] = str(resource["values"]["repository_url"])
    return dict(sorted(urls.items()))


def main(argv: list[str]) -> int:
    """CLI entry: `ecr-urls` reads the state JSON on stdin."""
    if argv != ["ecr-urls"]:
        print("usage: python -m devtools.terraform_check.deploy ecr-urls < state.json", file=sys.stderr)
        return 2
    urls = ecr_repository_urls(json.load(sys.stdin))
    if not urls:
        print("no ECR repositories in the state: run the targeted ECR apply first", file=sys.stderr)
        return 1
    for agent, url in urls.items():
        print(agent, url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
