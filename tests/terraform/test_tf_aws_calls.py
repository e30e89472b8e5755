"""Specs: the AWS calls read from the services' code, with the IAM action each needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.terraform_check.aws_calls import Call, calls_in, unregistered

pytestmark = pytest.mark.terraform

MODULE = """
async def block(ctx, name):
    waf = await ctx.clients.client("wafv2")
    sets = await waf.list_ip_sets(Scope="REGIONAL", Limit=100)
    await waf.update_ip_set(Name=name, Scope="REGIONAL", Id="x", Addresses=[], LockToken="t")


async def publish(clients, topic):
    client = await clients.client("sns")
    await client.publish(TopicArn=topic, Message="m")


async def put(clients, bus):
    client = await clients.client("events")
    await client.put_events(Entries=[])


class Reader:
    def __init__(self, client):
        self._client = client

    async def scan(self, region):
        async with self._client("ec2", region) as ec2:
            async for page in ec2.get_paginator("describe_volumes").paginate():
                pass
        s3 = await self.clients.client("s3")
        await s3.put_public_access_block(Bucket="b", PublicAccessBlockConfiguration={})
"""


def test_calls_are_read_per_function_with_botocore_operation_names(tmp_path: Path) -> None:
    # Given a module with two functions that bind the name `client` to different services
    module = tmp_path / "actions.py"
    module.write_text(MODULE)

    calls = calls_in(module, tmp_path)

    # Then each call maps to its own client's IAM action (botocore spells ListIPSets, not ListIpSets)
    assert [(c.service, c.method, c.actions) for c in calls] == [
        ("wafv2", "list_ip_sets", ("wafv2:ListIPSets",)),
        ("wafv2", "update_ip_set", ("wafv2:UpdateIPSet",)),
        ("sns", "publish", ("sns:Publish",)),
        ("events", "put_events", ("events:PutEvents",)),
        ("ec2", "describe_volumes", ("ec2:DescribeVolumes",)),
        ("s3", "put_public_access_block", ("s3:PutBucketPublicAccessBlock",)),
    ]


def test_a_method_that_is_not_an_operation_of_its_client_needs_no_action() -> None:
    assert Call("x.py", 1, "sqs", "send_batch").actions == ()


def test_a_call_the_registry_does_not_list_is_reported(tmp_path: Path) -> None:
    # Given an incident-response module that deletes flow logs, which nothing registers
    package = tmp_path / "services" / "incident_response" / "acso_incident_response"
    package.mkdir(parents=True)
    (package / "flows.py").write_text(
        "async def delete(ctx, ids):\n"
        '    ec2 = await ctx.clients.client("ec2")\n'
        "    await ec2.delete_flow_logs(FlowLogIds=ids)\n"
    )
    (tmp_path / "shared" / "acso_shared").mkdir(parents=True)

    assert unregistered(tmp_path) == [
        "services/incident_response/acso_incident_response/flows.py:3: incident_response calls ec2.delete_flow_logs"
        " (ec2:DeleteFlowLogs), which the operations registry does not list: add it with the ARN it targets"
    ]
