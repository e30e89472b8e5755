"""Discovery, execution and lateral movement rules: request shapes, success and failure, look-alikes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.cloudtrail.samples import (
    TERRAFORM_UA,
    assumed_role,
    failed,
    iam_user,
    instance_session,
    record,
)
from tests.unit.hunting.rule_spec import Case, check, fires, ids, params, silent

pytestmark = pytest.mark.unit

EC2 = "ec2.amazonaws.com"
SSM = "ssm.amazonaws.com"
EIC = "ec2-instance-connect.amazonaws.com"

# Stratus Red Team aws.discovery.ec2-enumerate-from-instance, run under the instance role
ENUMERATION = [
    ("sts.amazonaws.com", "GetCallerIdentity"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("iam.amazonaws.com", "GetAccountSummary"),
    ("iam.amazonaws.com", "ListRoles"),
    ("iam.amazonaws.com", "ListUsers"),
    ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
    (EC2, "DescribeSnapshots"),
    ("cloudtrail.amazonaws.com", "DescribeTrails"),
    ("guardduty.amazonaws.com", "ListDetectors"),
]

# What a Terraform plan of a normal stack reads: resources by name, in two or three services
TERRAFORM_PLAN = [
    ("sts.amazonaws.com", "GetCallerIdentity", None),
    ("iam.amazonaws.com", "GetRole", {"roleName": "app"}),
    ("iam.amazonaws.com", "ListAttachedRolePolicies", {"roleName": "app"}),
    ("iam.amazonaws.com", "GetPolicy", {"policyArn": "arn:aws:iam::111122223333:policy/app"}),
    (EC2, "DescribeInstances", {"instancesSet": {"items": [{"instanceId": "i-0abc"}]}}),
    (EC2, "DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": "sg-0a"}]}}),
    (EC2, "DescribeVpcs", {"vpcSet": {"items": [{"vpcId": "vpc-0a"}]}}),
    ("s3.amazonaws.com", "GetBucketPolicy", {"bucketName": "app-data"}),
    ("kms.amazonaws.com", "DescribeKey", {"keyId": "alias/app"}),
    ("logs.amazonaws.com", "DescribeLogGroups", {"logGroupNamePrefix": "/app"}),
    ("lambda.amazonaws.com", "GetFunction20150331v2", {"functionName": "app"}),
    ("secretsmanager.amazonaws.com", "DescribeSecret", {"secretId": "app/db"}),
    ("ssm.amazonaws.com", "GetParameter", {"name": "/app/url"}),
    ("rds.amazonaws.com", "DescribeDBInstances", {"dBInstanceIdentifier": "app"}),
]


def _calls(pairs: list, who: dict, **extra: object) -> list[dict]:
    out = []
    for i, item in enumerate(pairs):
        source, name = item[0], item[1]
        request = item[2] if len(item) > 2 else None
        out.append(record(source, name, request, identity=who, at=timedelta(seconds=3 * i), read_only=True, **extra))
    return out


def _denied(names: list[str], who: dict) -> list[dict]:
    return [failed(r) for r in _calls([(EC2, n) for n in names], who)]


def _session(target: str, at: int, who: dict | None = None) -> dict:
    return record(
        SSM,
        "StartSession",
        {"target": target},
        identity=who or iam_user("christophe"),
        response={"sessionId": f"christophe-{target}", "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/..."},
        at=timedelta(seconds=at),
    )


def _run(instance_type: str, event: str = "RunInstances", **request: object) -> dict:
    return record(
        EC2,
        event,
        {
            "instanceType": instance_type,
            "instancesSet": {"items": [{"imageId": "ami-0fedcba9876543210", "minCount": 1, "maxCount": 10}]},
            **request,
        },
    )


SOME_DENIED = [
    "DescribeInstances",
    "DescribeSnapshots",
    "DescribeVolumes",
    "DescribeImages",
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeKeyPairs",
    "DescribeAddresses",
    "DescribeRegions",
    "DescribeSecurityGroups",
]

CASES: dict[str, list[Case]] = {
    "multi_region_burst.yml": [
        fires(
            "five regions in a minute",
            *(
                record(EC2, "DescribeInstances", None, region=r, at=timedelta(seconds=10 * i), read_only=True)
                for i, r in enumerate(["us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1"])
            ),
        ),
        silent(
            "four regions",
            *(
                record(EC2, "DescribeInstances", None, region=r, at=timedelta(seconds=10 * i), read_only=True)
                for i, r in enumerate(["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"])
            ),
        ),
        silent(
            "five regions from the console",
            *(
                record(
                    EC2,
                    "DescribeInstances",
                    None,
                    region=r,
                    at=timedelta(seconds=10 * i),
                    sessionCredentialFromConsole="true",
                )
                for i, r in enumerate(["us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1"])
            ),
        ),
    ],
    "account_enumeration_burst.yml": [
        fires("enumeration from an instance", *_calls(ENUMERATION, instance_session())),
        fires("enumeration with a leaked user key", *_calls(ENUMERATION, iam_user("svc-backup"))),
        silent(
            "a Terraform plan of a normal stack",
            *_calls(TERRAFORM_PLAN, assumed_role("terraform", "tf"), userAgent=TERRAFORM_UA),
        ),
        silent("the same plan without its user agent", *_calls(TERRAFORM_PLAN, assumed_role("terraform", "tf"))),
        silent(
            "an administrator browsing the console",
            *_calls(ENUMERATION, assumed_role("Admin", "alice"), sessionCredentialFromConsole="true"),
        ),
        silent("four services", *_calls(ENUMERATION[:6], iam_user("svc-backup"))),
    ],
    "access_denied_burst.yml": [
        fires("ten different calls denied", *_denied(SOME_DENIED, iam_user("leaked"))),
        silent("nine different calls denied", *_denied(SOME_DENIED[:9], iam_user("leaked"))),
        silent("the same call denied thirty times", *_denied(["DescribeInstances"] * 30, assumed_role("app", "x"))),
        silent("ten different calls allowed", *_calls([(EC2, n) for n in SOME_DENIED], iam_user("admin"))),
        silent(
            "a read-only user's console pages",
            *(
                failed(r)
                for r in _calls(
                    [(EC2, n) for n in SOME_DENIED], assumed_role("ReadOnly", "v"), sessionCredentialFromConsole="true"
                )
            ),
        ),
    ],
    "ses_enumeration.yml": [
        fires(
            "sending status, quota, identities",
            *_calls(
                [
                    ("ses.amazonaws.com", "GetAccountSendingEnabled"),
                    ("ses.amazonaws.com", "GetSendQuota"),
                    ("ses.amazonaws.com", "ListIdentities"),
                    ("ses.amazonaws.com", "GetIdentityVerificationAttributes", {"identities": ["example.com"]}),
                ],
                iam_user("leaked"),
            ),
        ),
        silent(
            "a monitor polling the quota",
            *_calls([("ses.amazonaws.com", "GetSendQuota")] * 10, assumed_role("mon", "m")),
        ),
        silent(
            "the SES console",
            *_calls(
                [
                    ("ses.amazonaws.com", "GetAccountSendingEnabled"),
                    ("ses.amazonaws.com", "GetSendQuota"),
                    ("ses.amazonaws.com", "ListIdentities"),
                ],
                assumed_role("Admin", "alice"),
                sessionCredentialFromConsole="true",
            ),
        ),
    ],
    "ec2_userdata_modified.yml": [
        fires(
            "user data as a string",
            record(EC2, "ModifyInstanceAttribute", {"instanceId": "i-0abc", "userData": "<sensitiveDataRemoved>"}),
        ),
        fires(
            "user data as a value object",
            record(
                EC2,
                "ModifyInstanceAttribute",
                {"instanceId": "i-0abc", "userData": {"value": "<sensitiveDataRemoved>"}},
            ),
        ),
        fires(
            "attribute and value form",
            record(
                EC2, "ModifyInstanceAttribute", {"instanceId": "i-0abc", "attribute": "userData", "value": "IyEvYmlu"}
            ),
        ),
        silent(
            "instance type changed",
            record(EC2, "ModifyInstanceAttribute", {"instanceId": "i-0abc", "instanceType": {"value": "m7g.large"}}),
        ),
    ],
    "ssm_send_command.yml": [
        fires(
            "shell script on several instances",
            record(
                SSM,
                "SendCommand",
                {
                    "instanceIds": ["i-0a", "i-0b", "i-0c"],
                    "documentName": "AWS-RunShellScript",
                    "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
                    "interactive": False,
                },
                response={
                    "command": {
                        "commandId": "d5b2c1e0-1234-4abc-9def-0123456789ab",
                        "documentName": "AWS-RunShellScript",
                    }
                },
            ),
        ),
        fires(
            "PowerShell by tag target",
            record(
                SSM,
                "SendCommand",
                {"targets": [{"key": "tag:role", "values": ["web"]}], "documentName": "AWS-RunPowerShellScript"},
            ),
        ),
        silent(
            "patch baseline run",
            record(SSM, "SendCommand", {"instanceIds": ["i-0a"], "documentName": "AWS-RunPatchBaseline"}),
        ),
        silent(
            "command output read",
            record(SSM, "GetCommandInvocation", {"commandId": "d5b2", "instanceId": "i-0a"}, read_only=True),
        ),
    ],
    "ssm_start_session.yml": [
        fires("sessions on three instances", *(_session(f"i-0000000{i}", 20 * i) for i in range(3))),
        silent("two instances", *(_session(f"i-0000000{i}", 20 * i) for i in range(2))),
        silent("one instance, reconnecting", *(_session("i-00000001", 60 * i) for i in range(5))),
        silent(
            "three operators, one instance each",
            *(_session(f"i-0000000{i}", 20 * i, iam_user(f"op{i}")) for i in range(3)),
        ),
    ],
    "ec2_unusual_instance_type.yml": [
        fires("p2.xlarge", _run("p2.xlarge")),
        fires("g5.12xlarge", _run("g5.12xlarge")),
        fires("metal", _run("c7i.metal-48xl")),
        fires("48xlarge", _run("m7i.48xlarge")),
        fires(
            "trainium spot request",
            record(EC2, "RequestSpotInstances", {"launchSpecification": {"instanceType": "trn1.32xlarge"}}),
        ),
        silent("t3.micro", _run("t3.micro")),
        silent("m5.2xlarge", _run("m5.2xlarge")),
        silent("gp3 volume is not an instance", record(EC2, "CreateVolume", {"volumeType": "gp3", "size": 100})),
    ],
    "sagemaker_lifecycle_config_changed.yml": [
        fires(
            "lifecycle script replaced",
            record(
                "sagemaker.amazonaws.com",
                "UpdateNotebookInstanceLifecycleConfig",
                {"notebookInstanceLifecycleConfigName": "lc", "onStart": [{"content": "<sensitiveDataRemoved>"}]},
            ),
        ),
        fires(
            "lifecycle config attached to a stopped notebook",
            record(
                "sagemaker.amazonaws.com",
                "UpdateNotebookInstance",
                {"notebookInstanceName": "research", "lifecycleConfigName": "lc"},
            ),
        ),
        silent(
            "notebook resized",
            record(
                "sagemaker.amazonaws.com",
                "UpdateNotebookInstance",
                {"notebookInstanceName": "research", "instanceType": "ml.t3.large"},
            ),
        ),
        silent(
            "notebook started",
            record("sagemaker.amazonaws.com", "StartNotebookInstance", {"notebookInstanceName": "research"}),
        ),
    ],
    "ec2_console_screenshots.yml": [
        fires(
            "screenshots of three instances",
            *(
                record(
                    EC2, "GetConsoleScreenshot", {"instanceId": f"i-0{i}abc", "wakeUp": True}, at=timedelta(seconds=i)
                )
                for i in range(3)
            ),
        ),
        silent(
            "one instance, several screenshots",
            *(
                record(EC2, "GetConsoleScreenshot", {"instanceId": "i-0abc"}, at=timedelta(seconds=10 * i))
                for i in range(5)
            ),
        ),
        silent(
            "three instances from the console",
            *(
                record(
                    EC2,
                    "GetConsoleScreenshot",
                    {"instanceId": f"i-0{i}"},
                    at=timedelta(seconds=i),
                    sessionCredentialFromConsole="true",
                )
                for i in range(3)
            ),
        ),
    ],
    "ec2_instance_connect.yml": [
        fires(
            "key pushed",
            record(
                EIC,
                "SendSSHPublicKey",
                {
                    "instanceId": "i-0abc1234def567890",
                    "instanceOSUser": "ec2-user",
                    "sSHPublicKey": "ssh-ed25519 AAAAC3...",
                },
                response={"requestId": "f4a1", "success": True},
            ),
        ),
        silent("endpoint listed", record(EC2, "DescribeInstanceConnectEndpoints", None, read_only=True)),
    ],
    "ec2_serial_console_access.yml": [
        fires(
            "account-wide access enabled",
            record(EC2, "EnableSerialConsoleAccess", None, response={"serialConsoleAccessEnabled": True}),
        ),
        fires(
            "serial console key pushed",
            record(
                EIC,
                "SendSerialConsoleSSHPublicKey",
                {"instanceId": "i-0abc1234def567890", "serialPort": 0, "sSHPublicKey": "ssh-ed25519 AAAAC3..."},
            ),
        ),
        silent("access disabled", record(EC2, "DisableSerialConsoleAccess", None)),
        silent("status read", record(EC2, "GetSerialConsoleAccessStatus", None, read_only=True)),
    ],
}


@pytest.mark.parametrize(("file_name", "case"), params(CASES), ids=ids(CASES))
def test_discovery_execution_lateral_rule(file_name: str, case: Case) -> None:
    check(file_name, case)
