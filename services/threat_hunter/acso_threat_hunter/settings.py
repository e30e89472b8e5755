"""Settings of the threat-hunter service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from acso_shared.settings import REPO_ROOT, ServiceSettings


class Settings(ServiceSettings):
    """Everything the threat-hunter service reads from the environment (`ACSO_` prefix)."""

    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Intel feeds and NDJSON uploads")
    intel_refresh_interval_s: float = Field(
        default=30.0, gt=0, description="How often the in-memory indicator index applies the change feed"
    )
    intel_min_ipv4_prefix: int = Field(
        default=8, ge=0, le=32, description="IPv4 range indicators shorter than this prefix are refused at import"
    )
    intel_min_ipv6_prefix: int = Field(
        default=32, ge=0, le=128, description="IPv6 range indicators shorter than this prefix are refused at import"
    )
    triage_window_s: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="CloudTrail context: this long before and after the alert"
    )
    triage_context_limit: int = Field(default=50, ge=1, le=1000, description="CloudTrail events kept as evidence")
    cloudtrail_lookup_enabled: bool = Field(
        default=False, description="Also query cloudtrail:LookupEvents (AWS only: the emulator lacks it)"
    )
    cloudtrail_lookup_rate_per_s: float = Field(default=2.0, gt=0, le=2.0, description="LookupEvents' account limit")
    knowledge_base_id: str = Field(
        default="", description="Bedrock Knowledge Base for /v1/intel/search; empty: PostgreSQL full-text search"
    )
    knowledge_base_endpoint_url: str | None = Field(
        default=None, description="bedrock-agent-runtime endpoint override (tests, VPC endpoints)"
    )
    runbooks_dir: Path = Field(
        default=REPO_ROOT / "services" / "incident_response" / "acso_incident_response" / "playbooks",
        description="Incident-response playbooks (*.yml) indexed for knowledge-base search",
    )
    hunt_max_events: int = Field(default=5_000_000, ge=1, description="Records one hunt reads at most")
    scheduled_hunt_window_s: int = Field(default=3600, ge=60, description="Window of a scheduled hunt")
    hunt_suppressions_file: Path | None = Field(
        default=None, description="YAML/JSON list of hunting suppressions (acso_shared.hunting.suppression)"
    )
    hunt_suppression_defaults: bool = Field(
        default=True, description="Also apply the default suppressions (deployment tools, AWS service principals)"
    )
