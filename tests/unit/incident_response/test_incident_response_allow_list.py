"""Containment's account allow-list (issue #15): the emulator's account only under ACSO_ENV=local,
and a clear refusal to start anywhere else without one, never a silent block of every action."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acso_incident_response.settings import EMULATOR_ACCOUNT_ID, Settings

pytestmark = pytest.mark.unit


def test_locally_containment_may_act_in_the_emulators_account() -> None:
    assert Settings(env="local").allowed_account_ids == (EMULATOR_ACCOUNT_ID,)


def test_outside_local_a_service_without_an_allow_list_refuses_to_start_and_says_what_to_set() -> None:
    with pytest.raises(ValidationError, match="ACSO_ALLOWED_ACCOUNT_IDS is not set"):
        Settings(env="dev")


@pytest.mark.parametrize(
    "value",
    ['["111111111111", "222222222222"]', "111111111111,222222222222", " 111111111111 , 222222222222 "],
)
def test_the_allow_list_is_read_as_terraform_writes_it_or_as_comma_separated_text(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACSO_ENV", "prod")
    monkeypatch.setenv("ACSO_ALLOWED_ACCOUNT_IDS", value)
    assert Settings().allowed_account_ids == ("111111111111", "222222222222")


def test_a_single_account_id_from_the_environment_stays_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACSO_ENV", "prod")
    monkeypatch.setenv("ACSO_ALLOWED_ACCOUNT_IDS", "012345678901")
    assert Settings().allowed_account_ids == ("012345678901",)
