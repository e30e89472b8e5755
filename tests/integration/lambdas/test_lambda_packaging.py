"""`make lambdas`: the zips Terraform deploys are complete, self-contained and reproducible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from acso_lambda_data_processing.service import load_rules
from devtools.package_lambda import FIXED_TIME, FUNCTIONS, build, write_zip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Runs inside the unpacked zip with no site-packages at all (`-S`), as the Lambda runtime would.
SMOKE = {
    "auth": """
import handler
from types import SimpleNamespace
ctx = SimpleNamespace(function_name="f", function_version="1", memory_limit_in_mb=128,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f", aws_request_id="r")
print(json.dumps(handler.handler({"type": "TOKEN"}, ctx)["policyDocument"]["Statement"][0]["Effect"]))
""",
    "notification": """
import handler
from acso_lambda_notification.formatting import slack_payload
from acso_lambda_notification.models import IncidentNotification
n = IncidentNotification(incident_id="i-1", title="t", severity="high")
print(json.dumps(slack_payload(n)["blocks"][0]["type"]))
""",
    "data_processing": """
import handler
from acso_lambda_data_processing.service import load_rules
pack = load_rules()
print(json.dumps([len(pack.rules), [e.message for e in pack.errors]]))
""",
}
# The unpacked zip loads every rule the installed packages load: the built-in pack and the flow rules.
EXPECTED = {"auth": "Deny", "notification": "header", "data_processing": [len(load_rules().rules), []]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lambda-build")
    return {f: build(f, dist_dir=root / "dist", build_root=root / "build")[0] for f in FUNCTIONS}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_zip_has_the_handler_shim_its_package_and_the_shared_modules_it_imports(
    built: dict[str, Path], function: str
) -> None:
    with zipfile.ZipFile(built[function]) as archive:
        names = archive.namelist()
        shim = archive.read("handler.py").decode()

    assert f"from acso_lambda_{function}.handler import handler" in shim
    assert f"acso_lambda_{function}/handler.py" in names
    assert "acso_shared/errors.py" in names
    assert "pydantic_core/__init__.py" in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert not [n for n in names if n.startswith("acso_shared/db/")]  # only what the handler imports


def test_the_data_processing_zip_carries_the_rule_files(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["data_processing"]) as archive:
        names = set(archive.namelist())

    assert "acso_shared/hunting/rules/initial_access/root_account_activity.yml" in names
    assert "acso_lambda_data_processing/rules/flow_admin_port_from_internet.yml" in names


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_unpacked_zip_imports_and_runs_without_any_installed_package(
    built: dict[str, Path], function: str, tmp_path: Path
) -> None:
    with zipfile.ZipFile(built[function]) as archive:
        archive.extractall(tmp_path)
    code = f"import sys, json\nsys.path.insert(0, {str(tmp_path)!r})\n" + SMOKE[function]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ACSO_COGNITO_USER_POOL_ID": "us-east-1_x",
        "ACSO_COGNITO_APP_CLIENT_ID": "c",
    }

    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == EXPECTED[function]


def test_entries_are_sorted_with_fixed_timestamps_and_the_zip_is_byte_reproducible(
    built: dict[str, Path], tmp_path: Path
) -> None:
    stage = built["auth"].parent.parent / "build" / "auth"
    first = write_zip(stage, tmp_path / "one.zip")
    os.utime(stage / "handler.py", (1_900_000_000, 1_900_000_000))  # a rebuild touches files

    second = write_zip(stage, tmp_path / "two.zip")

    assert first == second
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {FIXED_TIME}
