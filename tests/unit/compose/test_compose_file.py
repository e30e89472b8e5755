"""docker-compose.yml: valid Compose, every agent wired like `make run`, the emulator profiles."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import yaml

import acso_shared.local.stack as launcher
from acso_shared.local.stack import LauncherSettings
from acso_shared.provision import ProvisionedStack
from acso_shared.resources import Agent

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "tests/fixtures/compose/compose_spec.json").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def settings_class(agent: Agent) -> type[Any]:
    module = __import__(f"acso_{agent.value}.settings", fromlist=["Settings"])
    return module.Settings  # type: ignore[no-any-return]


def launcher_variables(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The variables `make run` gives an agent (the launcher's own code), without the caller's environment."""
    monkeypatch.setattr(launcher, "os", SimpleNamespace(environ={}))
    fake = SimpleNamespace(
        settings=LauncherSettings(),
        stack=ProvisionedStack(env="local", region="us-east-1", account_id="123456789012", user_pool_id="p"),
        emulator=SimpleNamespace(url="http://127.0.0.1:4566"),
        database_url="postgresql://x",
    )
    env = launcher.LocalStack.service_environment(fake, agent)  # type: ignore[arg-type]
    return set(env) - set(launcher.LOCAL_CREDENTIALS)


def stack_env_variables() -> set[str]:
    """The variables the init step writes to /run/acso/stack.env (the identifiers AWS assigns)."""
    return set(re.findall(r'"(ACSO_[A-Z_]+)":', SERVICES["init"]["command"][0]))


def test_the_file_is_valid_against_the_compose_specification() -> None:
    validator = jsonschema.Draft201909Validator(SCHEMA)

    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]

    assert errors == []


def test_the_schema_check_rejects_an_invalid_service() -> None:
    broken = {**COMPOSE, "services": {**SERVICES, "typo": {"image": "x", "enviroment": {}}}}

    assert not jsonschema.Draft201909Validator(SCHEMA).is_valid(broken)


def test_it_names_every_agent_the_database_the_init_step_and_both_emulators() -> None:
    assert set(SERVICES) == {a.kebab for a in Agent} | {"postgres", "init", "localstack", "moto"}


@pytest.mark.parametrize("agent", list(Agent))
def test_each_agent_is_built_from_the_repo_root_with_its_own_dockerfile(agent: Agent) -> None:
    build = SERVICES[agent.kebab]["build"]

    assert build["context"] == "."
    assert build["dockerfile"] == f"services/{agent.value}/Dockerfile"
    assert (ROOT / build["dockerfile"]).is_file()
    assert SERVICES[agent.kebab]["command"] == ["python", "-m", f"acso_{agent.value}"]


@pytest.mark.parametrize("agent", list(Agent))
def test_each_agent_gets_the_variables_make_run_gives_it(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    service = SERVICES[agent.kebab]
    compose_vars = set(service["environment"]) - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

    assert compose_vars | stack_env_variables() == launcher_variables(agent, monkeypatch)
    assert service["environment"]["ACSO_SERVICE_PORT"] == str(agent.default_port)
    assert service["ports"] == [f"{agent.default_port}:{agent.default_port}"]


@pytest.mark.parametrize("agent", list(Agent))
def test_every_acso_variable_is_a_setting_of_the_service(agent: Agent) -> None:
    fields = set(settings_class(agent).model_fields)
    names = set(SERVICES[agent.kebab]["environment"]) | stack_env_variables()

    unknown = {n for n in names if n.startswith("ACSO_") and n.removeprefix("ACSO_").lower() not in fields}

    assert unknown == set()


@pytest.mark.parametrize("agent", list(Agent))
def test_agents_start_after_a_healthy_database_and_a_completed_init(agent: Agent) -> None:
    service = SERVICES[agent.kebab]

    assert service["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "init": {"condition": "service_completed_successfully"},
    }
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert "/run/acso/stack.env" in " ".join(service["entrypoint"])


def test_the_init_step_provisions_from_the_manifest_and_migrates() -> None:
    script = SERVICES["init"]["command"][0]

    assert '["acso", "provision"]' in script
    assert '["acso", "migrate"]' in script
    assert SERVICES["init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_localstack_is_pinned_and_gets_the_licence_token() -> None:
    localstack = SERVICES["localstack"]

    assert not localstack["image"].endswith((":latest", "localstack/localstack"))
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"].startswith("${LOCALSTACK_AUTH_TOKEN")
    assert localstack["profiles"] == ["localstack"]


def test_both_emulators_answer_as_aws_on_port_4566_in_their_own_profile() -> None:
    for name, profile in (("localstack", "localstack"), ("moto", "moto")):
        service = SERVICES[name]
        assert service["profiles"] == [profile]
        assert service["networks"]["default"]["aliases"] == ["aws"]
        assert "4566:4566" in service["ports"]
        assert "healthcheck" in service
    assert SERVICES["supervisor"]["environment"]["AWS_ENDPOINT_URL"] == "http://aws:4566"
