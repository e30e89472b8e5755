"""The services' Dockerfiles, read statically (no Docker here): the requirements each must meet."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acso_shared.resources import Agent

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Instructions per stage, with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            stages.append(Stage(base, parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword, rest.strip()))
    return args, stages


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list)
    return [str(v) for v in parsed]


@pytest.fixture(params=list(Agent), ids=lambda a: a.value)
def agent(request: pytest.FixtureRequest) -> Agent:
    return request.param  # type: ignore[no-any-return]


def stages_of(agent: Agent) -> list[Stage]:
    return parse(ROOT / "services" / agent.value / "Dockerfile")[1]


def test_it_is_multi_stage_on_python_3_11_slim(agent: Agent) -> None:
    stages = stages_of(agent)

    assert len(stages) >= 2
    assert all(s.base.startswith("python:3.11-slim") for s in stages)
    assert stages[0].name == "builder"
    assert stages[-1].all("COPY") == ["--from=builder /opt/venv /opt/venv"]


def test_the_dependency_layer_comes_before_the_source(agent: Agent) -> None:
    builder = stages_of(agent)[0]
    copies = [args for key, args in builder.instructions if key in ("COPY", "RUN")]

    first_source = next(i for i, c in enumerate(copies) if "/acso_" in c and c.startswith(("shared/", "services/")))
    first_install = next(i for i, c in enumerate(copies) if "pip install -r" in c)
    assert first_install < first_source
    first_copies = builder.all("COPY")[:2]
    assert [c.split()[0] for c in first_copies] == ["shared/pyproject.toml", f"services/{agent.value}/pyproject.toml"]


def test_every_copied_path_exists_in_the_repo(agent: Agent) -> None:
    for stage in stages_of(agent):
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"{agent.value}: COPY {source} does not exist"


def test_it_runs_as_a_non_root_user(agent: Agent) -> None:
    final = stages_of(agent)[-1]

    [user] = final.all("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert any("useradd" in run and user in run for run in final.all("RUN"))


def test_it_listens_on_all_interfaces_on_the_agents_port(agent: Agent) -> None:
    final = stages_of(agent)[-1]
    env = " ".join(final.all("ENV"))

    assert final.all("EXPOSE") == [str(agent.default_port)]
    assert "ACSO_SERVICE_HOST=0.0.0.0" in env
    assert f"ACSO_SERVICE_PORT={agent.default_port}" in env


def test_the_healthcheck_probes_healthz_with_python(agent: Agent) -> None:
    [healthcheck] = stages_of(agent)[-1].all("HEALTHCHECK")
    command = exec_form(healthcheck[healthcheck.index("CMD") + 3 :].strip())

    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    compile(command[2], "healthcheck", "exec")


def test_the_command_starts_the_agent_module(agent: Agent) -> None:
    [cmd] = stages_of(agent)[-1].all("CMD")

    assert exec_form(cmd) == ["python", "-m", f"acso_{agent.value}"]
    assert (ROOT / "services" / agent.value / f"acso_{agent.value}" / "__main__.py").is_file()


def test_the_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv*", ".acso", "**/__pycache__"} <= ignored
    assert not ({"shared", "services"} & ignored)
