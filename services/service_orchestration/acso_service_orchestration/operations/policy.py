"""The change policy: what each operation runs, its risk, when it needs an approval, when it may run.

Pure functions of the request, the targets, the settings and the clock, so every rule is
unit-tested without AWS. Parameters that end up in shell commands are checked against narrow
patterns here: nothing from a request is ever interpolated into a command unchecked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from acso_service_orchestration.operations.models import OperationType, Risk, TargetInstance, WindowCheck
from acso_service_orchestration.settings import WEEKDAYS, MaintenanceWindow, RunbookSpec, Settings
from acso_shared.errors import Unprocessable

RUN_SHELL = "AWS-RunShellScript"
RUN_PATCH_BASELINE = "AWS-RunPatchBaseline"
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]{0,127}$")
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")

FORENSIC_COMMANDS: tuple[str, ...] = (
    # Read-only evidence that disappears on isolation or reboot: processes, sockets, logins.
    "date -u +%Y-%m-%dT%H:%M:%SZ",
    "uname -a",
    "uptime",
    "ps auxww",
    "ss -tunap",
    "last -n 50",
    "ls -la /tmp /var/tmp",
)


@dataclass(frozen=True)
class CommandSpec:
    """What SSM runs for one operation."""

    document: str
    parameters: dict[str, list[str]]
    risk: Risk
    rollback_plan: str | None
    window_applies: bool


def _str_param(parameters: dict[str, Any], name: str, pattern: re.Pattern[str], default: str | None = None) -> str:
    value = parameters.get(name, default)
    if not isinstance(value, str) or not pattern.match(value):
        raise Unprocessable("operation_parameter_invalid", f"parameter {name!r} is missing or not allowed")
    return value


def _choice(parameters: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = parameters.get(name, default)
    if value not in choices:
        raise Unprocessable("operation_parameter_invalid", f"parameter {name!r} must be one of {list(choices)}")
    return str(value)


def _reject_unknown(parameters: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise Unprocessable("operation_parameter_unknown", f"unknown parameters {unknown}")


def command_for(
    operation: OperationType, parameters: dict[str, Any], env: str, runbooks: dict[str, RunbookSpec]
) -> CommandSpec:
    """The SSM document and parameters of an operation; Unprocessable for bad parameters."""
    if operation == "restart_service":
        _reject_unknown(parameters, {"service"})
        service = _str_param(parameters, "service", _SERVICE_NAME)
        return CommandSpec(
            RUN_SHELL,
            {"commands": [f"systemctl restart {service}", f"systemctl is-active {service}"]},
            "medium",
            None,
            True,
        )
    if operation == "patch":
        _reject_unknown(parameters, {"operation", "reboot"})
        mode = _choice(parameters, "operation", ("Scan", "Install"), "Install")
        reboot = _choice(parameters, "reboot", ("RebootIfNeeded", "NoReboot"), "RebootIfNeeded")
        install = mode == "Install"
        return CommandSpec(
            RUN_PATCH_BASELINE,
            {"Operation": [mode], "RebootOption": [reboot]},
            "high" if install else "low",
            (
                "Patch Manager cannot uninstall patches: restore the affected instances from their latest "
                "AMI or EBS snapshot taken before the change, or remove the package with the OS package "
                "manager and pin the previous version."
            )
            if install
            else None,
            install,
        )
    if operation == "collect_forensics":
        _reject_unknown(parameters, set())
        # Evidence collection is read-only and urgent (it runs before isolation): no window.
        return CommandSpec(RUN_SHELL, {"commands": list(FORENSIC_COMMANDS)}, "low", None, False)
    if operation == "rotate_credential":
        _reject_unknown(parameters, {"credential"})
        credential = _str_param(parameters, "credential", _CREDENTIAL_NAME)
        return CommandSpec(
            f"acso-{env}-RotateCredential",
            {"CredentialName": [credential]},
            "high",
            f"Restore the previous version of {credential} (Secrets Manager stage AWSPREVIOUS) and restart "
            "the services that read it.",
            True,
        )
    _reject_unknown(parameters, {"runbook"})
    name = parameters.get("runbook")
    spec = runbooks.get(name) if isinstance(name, str) else None
    if spec is None:
        raise Unprocessable("runbook_unknown", f"runbook must be one of {sorted(runbooks)}")
    risk: Risk = "high" if spec.risk == "high" else "medium" if spec.risk == "medium" else "low"
    return CommandSpec(spec.document, dict(spec.parameters), risk, spec.rollback, risk != "low")


def approval_reasons(
    operation: OperationType,
    risk: Risk,
    targets: list[TargetInstance],
    settings: Settings,
    *,
    emergency: bool,
) -> list[str]:
    """Why the operation needs an approval by an it_operator or admin; empty when it does not."""
    reasons: list[str] = []
    if risk == "high":
        reasons.append("high_risk")
    if operation in ("patch", "restart_service") and risk != "low":
        if len(targets) > settings.operations_approval_instance_threshold:
            reasons.append(f"more_than_{settings.operations_approval_instance_threshold}_instances")
        production = {v.lower() for v in settings.operations_production_values}
        if any(t.tags.get(settings.operations_production_tag, "").lower() in production for t in targets):
            reasons.append("production_instances")
    if emergency:
        reasons.append("emergency_change")
    return reasons


def resolve_limit(value: str, total: int, *, minimum: int) -> int:
    """An SSM-style limit ("10" or "25%") as a count of `total` targets.

    Concurrency percentages round up and are at least 1 (SSM never runs on zero targets at a
    time); error percentages round down, so "10%" of 5 targets tolerates no error.
    """
    if value.endswith("%"):
        share = int(value[:-1]) * total / 100
        count = math.ceil(share) if minimum > 0 else math.floor(share)
    else:
        count = int(value)
    return max(minimum, min(count, total)) if total else minimum


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _describe(window: MaintenanceWindow) -> str:
    return f"{','.join(window.days)} {window.start}-{window.end} UTC"


def _open_intervals(window: MaintenanceWindow, around: datetime) -> list[tuple[datetime, datetime]]:
    """The window's occurrences from the day before `around` to a week after it."""
    intervals = []
    midnight = around.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start_m, end_m = _minutes(window.start), _minutes(window.end)
    for offset in range(-1, 8):
        day = midnight + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in window.days:
            continue
        start = day + timedelta(minutes=start_m)
        end = day + timedelta(minutes=end_m if end_m > start_m else end_m + 24 * 60)
        intervals.append((start, end))
    return intervals


def window_check(windows: tuple[MaintenanceWindow, ...], now: datetime, *, applies: bool) -> WindowCheck:
    """Whether `now` is inside a maintenance window. No windows configured means always open."""
    described = [_describe(w) for w in windows]
    if not applies or not windows:
        return WindowCheck(applies=applies and bool(windows), in_window=True, windows=described)
    intervals = sorted(i for w in windows for i in _open_intervals(w, now))
    if any(start <= now < end for start, end in intervals):
        return WindowCheck(applies=True, in_window=True, windows=described)
    upcoming = [start for start, _ in intervals if start > now]
    return WindowCheck(applies=True, in_window=False, windows=described, next_opens_at=min(upcoming, default=None))


def window_interval(windows: tuple[MaintenanceWindow, ...], at: datetime) -> tuple[datetime, datetime] | None:
    """The maintenance window open at `at`, or else the next one to open: (start, end) in UTC.

    None when no window is configured (or none opens within a week, which a weekly window always does).
    """
    intervals = sorted(i for w in windows for i in _open_intervals(w, at))
    return next(((start, end) for start, end in intervals if end > at), None)
