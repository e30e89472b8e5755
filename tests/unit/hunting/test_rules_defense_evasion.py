"""Defense evasion rules: every documented request shape, success and failure, and look-alikes."""

from __future__ import annotations

import pytest

from tests.fixtures.cloudtrail.samples import ACCOUNT, record
from tests.unit.hunting.rule_spec import Case, check, fires, ids, params, silent

pytestmark = pytest.mark.unit

CT = "cloudtrail.amazonaws.com"
GD = "guardduty.amazonaws.com"
EC2 = "ec2.amazonaws.com"
S3 = "s3.amazonaws.com"
DETECTOR = "12abc34d567e8fa901bc2d34e56789f0"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"


def _sg(permissions: list[dict]) -> dict:
    return {"groupId": "sg-0a1b2c3d4e5f67890", "ipPermissions": {"items": permissions}}


def _perm(port: int, cidr: str | None = None, cidr6: str | None = None) -> dict:
    return {
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": cidr}]} if cidr else {},
        "ipv6Ranges": {"items": [{"cidrIpv6": cidr6}]} if cidr6 else {},
        "prefixListIds": {},
    }


def _lifecycle(rule: dict) -> dict:
    return {
        "bucketName": "org-trail-logs",
        "Host": "org-trail-logs.s3.us-east-1.amazonaws.com",
        "lifecycle": "",
        "LifecycleConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Rule": rule},
    }


CASES: dict[str, list[Case]] = {
    "cloudtrail_logging_stopped.yml": [
        fires("StopLogging by ARN", record(CT, "StopLogging", {"name": TRAIL})),
        fires("StopLogging by name", record(CT, "StopLogging", {"name": "org-trail"})),
        fires("DeleteTrail", record(CT, "DeleteTrail", {"name": TRAIL})),
        silent("StartLogging", record(CT, "StartLogging", {"name": TRAIL})),
        silent("GetTrailStatus", record(CT, "GetTrailStatus", {"name": TRAIL}, read_only=True)),
    ],
    "cloudtrail_trail_modified.yml": [
        fires(
            "event selectors excluding management events",
            record(
                CT,
                "PutEventSelectors",
                {
                    "trailName": "org-trail",
                    "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False, "dataResources": []}],
                },
            ),
        ),
        fires(
            "advanced event selectors",
            record(
                CT,
                "PutEventSelectors",
                {
                    "trailName": "org-trail",
                    "advancedEventSelectors": [
                        {"name": "none", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}
                    ],
                },
            ),
        ),
        fires("UpdateTrail", record(CT, "UpdateTrail", {"name": "org-trail", "s3BucketName": "attacker-bucket"})),
        fires(
            "PutInsightSelectors",
            record(CT, "PutInsightSelectors", {"trailName": "org-trail", "insightSelectors": []}),
        ),
        silent("GetEventSelectors", record(CT, "GetEventSelectors", {"trailName": "org-trail"}, read_only=True)),
        silent("CreateTrail", record(CT, "CreateTrail", {"name": "second-trail", "s3BucketName": "logs"})),
    ],
    "cloudtrail_log_bucket_emptied.yml": [
        fires(
            "one-day expiration",
            record(
                S3, "PutBucketLifecycle", _lifecycle({"Expiration": {"Days": 1}, "ID": "nuke", "Status": "Enabled"})
            ),
        ),
        fires(
            "rule list with short noncurrent-version expiry",
            record(
                S3,
                "PutBucketLifecycle",
                _lifecycle(
                    [
                        {"ID": "a", "Status": "Enabled", "Transition": {"Days": 30, "StorageClass": "GLACIER"}},
                        {"ID": "b", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
                    ]
                ),
            ),
        ),
        fires(
            "trail log object deleted",
            record(
                S3,
                "DeleteObject",
                {
                    "bucketName": "org-trail-logs",
                    "key": f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/12/04/{ACCOUNT}_CloudTrail_x.json.gz",
                },
                eventCategory="Data",
                managementEvent=False,
            ),
        ),
        fires(
            "trail log objects deleted in batch",
            record(
                S3,
                "DeleteObjects",
                {"bucketName": "org-trail-logs", "delete": ""},
                resources=[
                    {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::org-trail-logs/"},
                    {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::org-trail-logs/AWSLogs/{ACCOUNT}/x"},
                ],
                eventCategory="Data",
                managementEvent=False,
            ),
        ),
        fires(
            "batch delete in the console's default trail bucket",
            record(
                S3,
                "DeleteObjects",
                {"bucketName": f"aws-cloudtrail-logs-{ACCOUNT}-3f1a2b4c", "delete": ""},
                eventCategory="Data",
                managementEvent=False,
            ),
        ),
        silent(
            "ninety-day retention",
            record(
                S3, "PutBucketLifecycle", _lifecycle({"Expiration": {"Days": 90}, "ID": "keep", "Status": "Enabled"})
            ),
        ),
        silent(
            "an application deleting its own objects",
            record(S3, "DeleteObject", {"bucketName": "uploads", "key": "tmp/abc.png"}, eventCategory="Data"),
        ),
    ],
    "guardduty_disabled.yml": [
        fires("DeleteDetector", record(GD, "DeleteDetector", {"detectorId": DETECTOR})),
        fires("suspended", record(GD, "UpdateDetector", {"detectorId": DETECTOR, "enable": False})),
        fires(
            "a protection feature disabled",
            record(
                GD,
                "UpdateDetector",
                {"detectorId": DETECTOR, "features": [{"name": "S3_DATA_EVENTS", "status": "DISABLED"}]},
            ),
        ),
        fires("DeleteMembers", record(GD, "DeleteMembers", {"detectorId": DETECTOR, "accountIds": ["444455556666"]})),
        fires("left the administrator", record(GD, "DisassociateFromAdministratorAccount", {"detectorId": DETECTOR})),
        fires("left the master (legacy name)", record(GD, "DisassociateFromMasterAccount", {"detectorId": DETECTOR})),
        silent(
            "publishing frequency changed",
            record(
                GD,
                "UpdateDetector",
                {"detectorId": DETECTOR, "enable": True, "findingPublishingFrequency": "SIX_HOURS"},
            ),
        ),
        silent("ListDetectors", record(GD, "ListDetectors", None, read_only=True)),
        silent(
            "Security Hub's DeleteMembers", record("securityhub.amazonaws.com", "DeleteMembers", {"accountIds": []})
        ),
    ],
    "config_recording_stopped.yml": [
        fires(
            "recorder stopped",
            record("config.amazonaws.com", "StopConfigurationRecorder", {"configurationRecorderName": "default"}),
        ),
        fires(
            "recorder deleted",
            record("config.amazonaws.com", "DeleteConfigurationRecorder", {"configurationRecorderName": "default"}),
        ),
        fires(
            "delivery channel deleted",
            record("config.amazonaws.com", "DeleteDeliveryChannel", {"deliveryChannelName": "default"}),
        ),
        silent(
            "recorder started",
            record("config.amazonaws.com", "StartConfigurationRecorder", {"configurationRecorderName": "default"}),
        ),
    ],
    "securityhub_disabled.yml": [
        fires("disabled", record("securityhub.amazonaws.com", "DisableSecurityHub", None)),
        fires(
            "standards disabled",
            record(
                "securityhub.amazonaws.com",
                "BatchDisableStandards",
                {"standardsSubscriptionArns": [f"arn:aws:securityhub:us-east-1:{ACCOUNT}:subscription/cis/v/1.4.0"]},
            ),
        ),
        fires(
            "left the administrator", record("securityhub.amazonaws.com", "DisassociateFromAdministratorAccount", None)
        ),
        silent(
            "findings read", record("securityhub.amazonaws.com", "GetFindings", {"maxResults": 100}, read_only=True)
        ),
        silent(
            "standards enabled",
            record("securityhub.amazonaws.com", "BatchEnableStandards", {"standardsSubscriptionRequests": []}),
        ),
    ],
    "vpc_flow_logs_deleted.yml": [
        fires(
            "DeleteFlowLogs",
            record(
                EC2, "DeleteFlowLogs", {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0123abcd"}}}
            ),
        ),
        silent(
            "CreateFlowLogs",
            record(EC2, "CreateFlowLogs", {"CreateFlowLogsRequest": {"ResourceId": {"tag": 1, "content": "vpc-0a1b"}}}),
        ),
    ],
    "dns_query_logging_deleted.yml": [
        fires(
            "config deleted",
            record(
                "route53resolver.amazonaws.com",
                "DeleteResolverQueryLogConfig",
                {"originSequenceNumber": 0, "resolverQueryLogConfigId": "rqlc-4473f20ca554c07"},
            ),
        ),
        fires(
            "config detached from a VPC",
            record(
                "route53resolver.amazonaws.com",
                "DisassociateResolverQueryLogConfig",
                {"resolverQueryLogConfigId": "rqlc-4473f20ca554c07", "resourceId": "vpc-0a1b2c3d"},
            ),
        ),
        silent(
            "config listed",
            record("route53resolver.amazonaws.com", "ListResolverQueryLogConfigs", {"maxResults": 10}, read_only=True),
        ),
    ],
    "organization_left.yml": [
        fires("LeaveOrganization", record("organizations.amazonaws.com", "LeaveOrganization", None)),
        fires(
            "account removed",
            record("organizations.amazonaws.com", "RemoveAccountFromOrganization", {"accountId": "444455556666"}),
        ),
        silent(
            "DescribeOrganization", record("organizations.amazonaws.com", "DescribeOrganization", None, read_only=True)
        ),
    ],
    "security_group_open_to_world.yml": [
        fires(
            "ipPermissions list, port 22", record(EC2, "AuthorizeSecurityGroupIngress", _sg([_perm(22, "0.0.0.0/0")]))
        ),
        fires("IPv6 any", record(EC2, "AuthorizeSecurityGroupIngress", _sg([_perm(3389, cidr6="::/0")]))),
        fires(
            "top-level cidrIp form",
            record(
                EC2,
                "AuthorizeSecurityGroupIngress",
                {
                    "groupId": "sg-0a1b2c3d4e5f67890",
                    "ipProtocol": "tcp",
                    "fromPort": 22,
                    "toPort": 22,
                    "cidrIp": "0.0.0.0/0",
                },
            ),
        ),
        fires(
            "ModifySecurityGroupRules",
            record(
                EC2,
                "ModifySecurityGroupRules",
                {
                    "ModifySecurityGroupRulesRequest": {
                        "GroupId": "sg-0a1b2c3d4e5f67890",
                        "SecurityGroupRule": {
                            "SecurityGroupRuleId": "sgr-0123456789abcdef0",
                            "SecurityGroupRule": {
                                "IpProtocol": "tcp",
                                "FromPort": 22,
                                "ToPort": 22,
                                "CidrIpv4": "0.0.0.0/0",
                            },
                        },
                    }
                },
            ),
        ),
        silent("internal CIDR", record(EC2, "AuthorizeSecurityGroupIngress", _sg([_perm(5432, "10.20.0.0/16")]))),
        silent(
            "web port 443 to the world", record(EC2, "AuthorizeSecurityGroupIngress", _sg([_perm(443, "0.0.0.0/0")]))
        ),
        silent(
            "top-level form, port 80",
            record(
                EC2,
                "AuthorizeSecurityGroupIngress",
                {"groupId": "sg-0a1b", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIp": "0.0.0.0/0"},
            ),
        ),
        silent("egress to the world", record(EC2, "AuthorizeSecurityGroupEgress", _sg([_perm(443, "0.0.0.0/0")]))),
    ],
    "opt_in_region_activity.yml": [
        fires(
            "instances in me-south-1",
            record(
                EC2,
                "RunInstances",
                {"instanceType": "t3.micro", "instancesSet": {"items": [{"imageId": "ami-0f"}]}},
                region="me-south-1",
            ),
        ),
        fires(
            "function in af-south-1",
            record("lambda.amazonaws.com", "CreateFunction20150331", {"functionName": "x"}, region="af-south-1"),
        ),
        silent("instances in eu-west-1", record(EC2, "RunInstances", {"instanceType": "t3.micro"}, region="eu-west-1")),
        silent(
            "reads in an opt-in region", record(EC2, "DescribeInstances", None, region="me-south-1", read_only=True)
        ),
    ],
    "bedrock_guardrail_or_logging_deleted.yml": [
        fires("guardrail deleted", record("bedrock.amazonaws.com", "DeleteGuardrail", {"guardrailIdentifier": "gr-1"})),
        fires(
            "invocation logging deleted",
            record("bedrock.amazonaws.com", "DeleteModelInvocationLoggingConfiguration", None),
        ),
        silent("guardrail listed", record("bedrock.amazonaws.com", "ListGuardrails", None, read_only=True)),
    ],
}


@pytest.mark.parametrize(("file_name", "case"), params(CASES), ids=ids(CASES))
def test_defense_evasion_rule(file_name: str, case: Case) -> None:
    check(file_name, case)
