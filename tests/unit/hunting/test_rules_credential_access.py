"""Credential access rules: every documented request shape, success and failure, and look-alikes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.cloudtrail.samples import (
    ACCOUNT,
    FOREIGN_ACCOUNT,
    assumed_role,
    iam_user,
    instance_session,
    record,
)
from tests.unit.hunting.rule_spec import Case, check, fires, ids, params, silent

pytestmark = pytest.mark.unit

EC2 = "ec2.amazonaws.com"
SM = "secretsmanager.amazonaws.com"
SSM = "ssm.amazonaws.com"


def _userdata(instance: str, at: int, who: dict | None = None) -> dict:
    return record(
        EC2,
        "DescribeInstanceAttribute",
        {"instanceId": instance, "attribute": "userData"},
        identity=who or assumed_role("get-usr-data-role", "aws-go-sdk-1722455550269043000"),
        at=timedelta(seconds=at),
        read_only=True,
    )


def _secret(i: int, who: dict, spacing: int = 20) -> dict:
    return record(
        SM,
        "GetSecretValue",
        {"secretId": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-{i}-AbCdEf"},
        identity=who,
        at=timedelta(seconds=i * spacing),
        read_only=True,
    )


def _get_parameters(batch: int, names: int, who: dict, decrypt: bool = True) -> dict:
    return record(
        SSM,
        "GetParameters",
        {"names": [f"/credentials/app/credentials-{10 * batch + i}" for i in range(names)], "withDecryption": decrypt},
        identity=who,
        at=timedelta(seconds=batch),
        read_only=True,
    )


def _get_parameter(i: int, who: dict, name: str | None = None) -> dict:
    return record(
        SSM,
        "GetParameter",
        {"name": name or f"/prod/app/secret-{i}", "withDecryption": True},
        identity=who,
        at=timedelta(seconds=5 * i),
        read_only=True,
    )


def _instance_call(ip: str, at: int, **extra: object) -> dict:
    return record(
        EC2,
        "DescribeInstances",
        {"instancesSet": {}, "filterSet": {}},
        identity=instance_session(),
        at=timedelta(seconds=at),
        read_only=True,
        sourceIPAddress=ip,
        **extra,
    )


CASES: dict[str, list[Case]] = {
    "ec2_userdata_or_password_read.yml": [
        fires("GetPasswordData", record(EC2, "GetPasswordData", {"instanceId": "i-0abc1234def567890"}, read_only=True)),
        silent(
            "another instance attribute",
            record(EC2, "DescribeInstanceAttribute", {"instanceId": "i-0abc", "attribute": "instanceType"}),
        ),
        silent("GetConsoleOutput", record(EC2, "GetConsoleOutput", {"instanceId": "i-0abc1234def567890"})),
    ],
    "ec2_userdata_read.yml": [
        fires("user data of three instances", *(_userdata(f"i-0000000{i}", i) for i in range(3))),
        silent("user data of one instance, read three times", *(_userdata("i-00000001", i) for i in range(3))),
        silent(
            "three instances, by three principals",
            *(_userdata(f"i-0000000{i}", i, iam_user(f"ops{i}")) for i in range(3)),
        ),
        silent(
            "user data of three instances in the console",
            *(
                record(
                    EC2,
                    "DescribeInstanceAttribute",
                    {"instanceId": f"i-0{i}", "attribute": "userData"},
                    sessionCredentialFromConsole="true",
                    at=timedelta(seconds=i),
                )
                for i in range(3)
            ),
        ),
        silent(
            "other attributes of three instances",
            *(
                record(
                    EC2, "DescribeInstanceAttribute", {"instanceId": f"i-0{i}", "attribute": "disableApiTermination"}
                )
                for i in range(3)
            ),
        ),
    ],
    "secretsmanager_batch_retrieval.yml": [
        fires("by filters", record(SM, "BatchGetSecretValue", {"filters": [{"key": "tag-key", "values": ["env"]}]})),
        fires(
            "catch-all filter",
            record(
                SM, "BatchGetSecretValue", {"filters": [{"key": "tag-key", "values": ["!tagKeyThatWillNeverExist"]}]}
            ),
        ),
        fires("by id list", record(SM, "BatchGetSecretValue", {"secretIdList": ["prod/db", "prod/api"]})),
        silent("one secret", record(SM, "GetSecretValue", {"secretId": "prod/db"})),
        silent("listing names only", record(SM, "ListSecrets", {"maxResults": 100}, read_only=True)),
    ],
    "secrets_manager_mass_read.yml": [
        fires("ten distinct secrets in three minutes", *(_secret(i, iam_user("frank")) for i in range(10))),
        silent("nine distinct secrets", *(_secret(i, iam_user("frank")) for i in range(9))),
        silent(
            "one secret read twenty times",
            *(record(SM, "GetSecretValue", {"secretId": "prod/db"}, at=timedelta(seconds=i)) for i in range(20)),
        ),
        silent("ten secrets over an hour", *(_secret(i, iam_user("grace"), spacing=450) for i in range(10))),
        silent("ten secrets, two principals", *(_secret(i, iam_user(f"u{i % 2}")) for i in range(10))),
    ],
    "ssm_parameter_mass_read.yml": [
        fires(
            "30 parameters in 3 calls",
            *(_get_parameters(b, 10, iam_user("christophe")) for b in range(3)),
        ),
        fires(
            "41 parameters in 5 calls",
            *(_get_parameters(b, 10 if b < 4 else 1, assumed_role("app", "s1")) for b in range(5)),
        ),
        silent(
            "nineteen parameters in two calls",
            _get_parameters(0, 10, iam_user("christophe")),
            _get_parameters(1, 9, iam_user("christophe")),
        ),
        silent(
            "thirty parameters without decryption",
            *(_get_parameters(b, 10, iam_user("christophe"), decrypt=False) for b in range(3)),
        ),
    ],
    "ssm_parameter_single_mass_read.yml": [
        fires("twenty parameters one by one", *(_get_parameter(i, iam_user("eve")) for i in range(20))),
        silent("nineteen parameters one by one", *(_get_parameter(i, iam_user("eve")) for i in range(19))),
        silent(
            "one parameter read thirty times",
            *(_get_parameter(i, iam_user("eve"), name="/prod/app/db") for i in range(30)),
        ),
        silent(
            "ten parameters without decryption",
            *(record(SSM, "GetParameter", {"name": f"/p/{i}", "withDecryption": False}) for i in range(10)),
        ),
    ],
    "ssm_parameters_by_path_decrypted.yml": [
        fires(
            "root path, recursive, decrypted",
            record(
                SSM, "GetParametersByPath", {"path": "/", "recursive": True, "withDecryption": True, "maxResults": 10}
            ),
        ),
        silent(
            "an application's own prefix",
            record(SSM, "GetParametersByPath", {"path": "/prod/app/", "recursive": True, "withDecryption": True}),
        ),
        silent(
            "root path without decryption",
            record(SSM, "GetParametersByPath", {"path": "/", "recursive": True, "withDecryption": False}),
        ),
    ],
    "ec2_instance_credentials_outside.yml": [
        fires(
            "through a VPC endpoint of another account",
            _instance_call(
                "10.8.1.20", 0, vpcEndpointId="vpce-0abc1234def567890", vpcEndpointAccountId=FOREIGN_ACCOUNT
            ),
        ),
        silent(
            "through the account's own endpoint",
            _instance_call("10.0.1.20", 0, vpcEndpointId="vpce-0abc1234def567890", vpcEndpointAccountId=ACCOUNT),
        ),
        silent(
            "a person's role session through a foreign endpoint",
            record(
                EC2,
                "DescribeInstances",
                None,
                identity=assumed_role("admin", "alice@example.com"),
                vpcEndpointId="vpce-0abc",
                vpcEndpointAccountId=FOREIGN_ACCOUNT,
            ),
        ),
    ],
    "ec2_instance_credentials_two_addresses.yml": [
        fires(
            "the instance's address, then an outside one",
            _instance_call("54.210.33.17", 0),
            _instance_call("185.220.101.45", 600),
        ),
        silent(
            "the instance's own address only",
            *(_instance_call("54.210.33.17", 60 * i) for i in range(10)),
        ),
        silent(
            "private address through an endpoint, and the NAT address",
            _instance_call("10.0.1.20", 0, vpcEndpointId="vpce-0abc", vpcEndpointAccountId=ACCOUNT),
            _instance_call("54.210.33.17", 30),
        ),
        silent(
            "two addresses more than an hour apart",
            _instance_call("54.210.33.17", 0),
            _instance_call("185.220.101.45", 3700),
        ),
        silent(
            "a person's session from two addresses",
            record(EC2, "DescribeVpcs", None, identity=assumed_role("admin", "bob"), sourceIPAddress="198.51.100.7"),
            record(EC2, "DescribeVpcs", None, identity=assumed_role("admin", "bob"), sourceIPAddress="203.0.113.9"),
        ),
    ],
}


@pytest.mark.parametrize(("file_name", "case"), params(CASES), ids=ids(CASES))
def test_credential_access_rule(file_name: str, case: Case) -> None:
    check(file_name, case)
