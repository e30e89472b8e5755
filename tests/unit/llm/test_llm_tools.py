from typing import Any

import pytest
from pydantic import BaseModel

from acso_shared.llm.conversation import ToolUseBlock
from acso_shared.llm.errors import ToolRegistrationError
from acso_shared.llm.tools import MutatingTool, ReadOnlyTool, ToolCallStatus, ToolRegistry, resource_fields
from tests.unit.llm.llm_scenarios import (
    ALERT_INSTANCE,
    ALERT_USER,
    ALLOWED,
    DisableKeysInput,
    IntelCalls,
    IntelMatchInput,
    IsolateInstanceInput,
    registry,
)

pytestmark = pytest.mark.unit


def use(name: str, **args: Any) -> ToolUseBlock:
    return ToolUseBlock(tool_use_id="tu-1", name=name, input=args)


def test_resource_fields_finds_single_and_list_identifiers():
    assert resource_fields(IsolateInstanceInput) == {"instance_id": False}
    assert resource_fields(DisableKeysInput) == {"principals": True}


def test_mutating_tool_schema_enumerates_only_the_allowed_identifiers():
    specs = {s.name: s for s in registry().specs(ALLOWED)}

    assert specs["isolate_instance"].input_schema["properties"]["instance_id"]["enum"] == sorted(ALLOWED)
    assert specs["disable_access_keys"].input_schema["properties"]["principals"]["items"]["enum"] == sorted(ALLOWED)


def test_mutating_tools_are_not_offered_when_the_alert_names_no_resource():
    assert [s.name for s in registry().specs(frozenset())] == ["intel_match"]


async def test_read_only_tool_runs_and_returns_its_output():
    intel = IntelCalls()

    execution = await registry(intel).execute(use("intel_match", indicator="198.51.100.23"), ALLOWED)

    assert intel.calls == ["198.51.100.23"]
    assert execution.record.status is ToolCallStatus.OK
    assert execution.result.content == {"indicator": "198.51.100.23", "matched": True, "sources": ["abuse.ch"]}


async def test_mutating_call_on_an_allowed_identifier_becomes_a_proposal_not_an_action():
    execution = await registry().execute(
        use("isolate_instance", instance_id=ALERT_INSTANCE, reason="brute force"), ALLOWED
    )

    assert execution.record.status is ToolCallStatus.PROPOSED
    assert execution.proposal is not None
    assert execution.proposal.action == "ec2.isolate"
    assert execution.proposal.resource_ids == {"instance_id": ALERT_INSTANCE}
    assert execution.proposal.parameters == {"reason": "brute force"}
    assert execution.result.content["status"] == "proposed"


async def test_mutating_call_on_an_identifier_outside_the_allow_set_is_rejected_and_reported():
    execution = await registry().execute(
        use("disable_access_keys", principals=[ALERT_USER, "arn:aws:iam::999988887777:user/ceo"], reason="x"), ALLOWED
    )

    assert execution.proposal is None
    assert execution.record.status is ToolCallStatus.REJECTED
    assert execution.record.error_code == "resource_not_in_scope"
    assert [o.value for o in execution.out_of_scope] == ["arn:aws:iam::999988887777:user/ceo"]


async def test_invalid_tool_input_is_returned_to_the_model_as_an_error():
    execution = await registry().execute(use("isolate_instance", reason="no id"), ALLOWED)

    assert execution.result.status == "error"
    assert execution.record.error_code == "tool_input_invalid"
    assert "instance_id" in execution.result.content["error"]["message"]


async def test_unknown_tool_is_rejected():
    execution = await registry().execute(use("delete_everything"), ALLOWED)

    assert execution.record.error_code == "tool_unknown"


async def test_a_failing_read_only_tool_yields_an_error_result_instead_of_raising():
    async def broken(args: IntelMatchInput) -> BaseModel:
        raise RuntimeError("database down")

    tools = ToolRegistry([ReadOnlyTool("intel_match", "Look up.", IntelMatchInput, broken)])

    execution = await tools.execute(use("intel_match", indicator="x"), ALLOWED)

    assert execution.record.status is ToolCallStatus.FAILED
    assert execution.result.content == {"error": {"code": "tool_failed", "message": "the tool failed"}}


def test_mutating_tool_without_a_resource_field_cannot_be_registered():
    with pytest.raises(ToolRegistrationError) as err:
        ToolRegistry([MutatingTool("notify", "Send a note.", IntelMatchInput, "sns.publish")])
    assert err.value.code == "llm_tool_without_resource"


def test_duplicate_tool_names_cannot_be_registered():
    tool = MutatingTool("isolate_instance", "Isolate.", IsolateInstanceInput, "ec2.isolate")

    with pytest.raises(ToolRegistrationError):
        ToolRegistry([tool, tool])
