"""The change policy: commands, approval, limits and maintenance windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acso_service_orchestration.operations.models import TargetInstance
from acso_service_orchestration.operations.policy import (
    approval_reasons,
    command_for,
    resolve_limit,
    window_check,
)
from acso_service_orchestration.settings import DEFAULT_RUNBOOKS, MaintenanceWindow, Settings
from acso_shared.errors import Unprocessable

pytestmark = pytest.mark.unit

SETTINGS = Settings(operations_approval_instance_threshold=2)


def _targets(count: int, **tags: str) -> list[TargetInstance]:
    return [TargetInstance(instance_id=f"i-{n:08x}", tags=dict(tags)) for n in range(count)]


def test_a_restart_runs_systemctl_on_the_named_service_only() -> None:
    spec = command_for("restart_service", {"service": "nginx"}, "test", DEFAULT_RUNBOOKS)
    assert spec.document == "AWS-RunShellScript"
    assert spec.parameters == {"commands": ["systemctl restart nginx", "systemctl is-active nginx"]}


@pytest.mark.parametrize("service", ["nginx; reboot", "$(id)", "", "a b", "-rf"])
def test_a_service_name_that_could_inject_shell_is_refused(service: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        command_for("restart_service", {"service": service}, "test", DEFAULT_RUNBOOKS)
    assert caught.value.code == "operation_parameter_invalid"


def test_a_patch_install_is_high_risk_with_a_rollback_plan_and_a_scan_is_low_risk_without() -> None:
    install = command_for("patch", {}, "test", DEFAULT_RUNBOOKS)
    scan = command_for("patch", {"operation": "Scan"}, "test", DEFAULT_RUNBOOKS)
    assert (install.document, install.parameters["Operation"], install.risk) == (
        "AWS-RunPatchBaseline",
        ["Install"],
        "high",
    )
    assert install.rollback_plan
    assert install.window_applies
    assert (scan.risk, scan.rollback_plan, scan.window_applies) == ("low", None, False)


def test_unknown_parameters_and_runbooks_are_refused() -> None:
    with pytest.raises(Unprocessable) as unknown_parameter:
        command_for("collect_forensics", {"commands": ["rm -rf /"]}, "test", DEFAULT_RUNBOOKS)
    with pytest.raises(Unprocessable) as unknown_runbook:
        command_for("run_runbook", {"runbook": "format-disks"}, "test", DEFAULT_RUNBOOKS)
    assert unknown_parameter.value.code == "operation_parameter_unknown"
    assert unknown_runbook.value.code == "runbook_unknown"


def test_credential_rotation_uses_the_project_document_of_the_environment() -> None:
    spec = command_for("rotate_credential", {"credential": "app/db"}, "prod", DEFAULT_RUNBOOKS)
    assert (spec.document, spec.parameters, spec.risk) == (
        "acso-prod-RotateCredential",
        {"CredentialName": ["app/db"]},
        "high",
    )


def test_a_restart_on_few_non_production_instances_needs_no_approval() -> None:
    assert approval_reasons("restart_service", "medium", _targets(2), SETTINGS, emergency=False) == []


def test_a_restart_on_more_instances_than_the_threshold_needs_approval() -> None:
    assert approval_reasons("restart_service", "medium", _targets(3), SETTINGS, emergency=False) == [
        "more_than_2_instances"
    ]


def test_a_restart_on_a_production_instance_needs_approval_whatever_the_tag_case() -> None:
    reasons = approval_reasons(
        "restart_service", "medium", _targets(1, Environment="Production"), SETTINGS, emergency=False
    )
    assert reasons == ["production_instances"]


def test_forensics_need_no_approval_but_an_emergency_change_always_does() -> None:
    assert (
        approval_reasons("collect_forensics", "low", _targets(10, Environment="prod"), SETTINGS, emergency=False) == []
    )
    assert approval_reasons("collect_forensics", "low", _targets(1), SETTINGS, emergency=True) == ["emergency_change"]


@pytest.mark.parametrize(
    ("value", "total", "minimum", "expected"),
    [("50%", 3, 1, 2), ("10%", 3, 1, 1), ("10", 3, 1, 3), ("0", 5, 0, 0), ("10%", 5, 0, 0), ("50%", 5, 0, 2)],
)
def test_limits_follow_ssm_rounding(value: str, total: int, minimum: int, expected: int) -> None:
    assert resolve_limit(value, total, minimum=minimum) == expected


SATURDAY_NIGHT = (MaintenanceWindow(days=("sat",), start="22:00", end="04:00"),)


def test_a_window_past_midnight_is_open_early_the_next_morning() -> None:
    sunday_3am = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)
    assert window_check(SATURDAY_NIGHT, sunday_3am, applies=True).in_window


def test_outside_the_window_the_check_names_when_it_opens_next() -> None:
    wednesday = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    check = window_check(SATURDAY_NIGHT, wednesday, applies=True)
    assert (check.in_window, check.next_opens_at) == (False, datetime(2026, 11, 7, 22, 0, tzinfo=UTC))
    assert check.windows == ["sat 22:00-04:00 UTC"]


def test_no_windows_or_an_exempt_operation_is_always_in_window() -> None:
    wednesday = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    assert window_check((), wednesday, applies=True).in_window
    assert window_check(SATURDAY_NIGHT, wednesday, applies=False).in_window


def test_integrations_default_to_the_manifest_secret_of_their_system() -> None:
    settings = Settings(
        env="test",
        itsm_integrations=[{"system": "jira", "base_url": "https://acme.atlassian.net", "jira_project_key": "SEC"}],
    )
    assert settings.itsm_integrations[0].credentials_secret_id == "acso-test/integrations/jira"
