"""Impact and initial access rules: request shapes, success and failure, look-alikes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.cloudtrail.samples import ACCOUNT, FOREIGN_ACCOUNT, assumed_role, iam_user, record, root
from tests.unit.hunting.rule_spec import Case, check, fires, ids, params, silent

pytestmark = pytest.mark.unit

S3 = "s3.amazonaws.com"
KMS = "kms.amazonaws.com"
BEDROCK = "bedrock.amazonaws.com"
KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
CLAUDE = "anthropic.claude-v2"


def _data(name: str, request: dict, at: int = 0, who: dict | None = None) -> dict:
    return record(
        S3,
        name,
        {"Host": "victim.s3.us-east-1.amazonaws.com", **request},
        identity=who or iam_user("christophe"),
        at=timedelta(seconds=at),
        eventCategory="Data",
        managementEvent=False,
        resources=[{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::victim", "accountId": ACCOUNT}],
    )


def _list_versions(at: int = 0, who: dict | None = None) -> dict:
    return _data("ListObjectVersions", {"bucketName": "victim", "versions": ""}, at, who)


def _copy_sse_c(key: str, at: int = 0) -> dict:
    return _data(
        "CopyObject",
        {
            "bucketName": "victim",
            "key": key,
            "x-amz-copy-source": f"victim/{key}",
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-id": "CopyObject",
        },
        at,
    )


def _put_kms(key: str, kms_key: str, at: int = 0) -> dict:
    return _data(
        "PutObject",
        {
            "bucketName": "victim",
            "key": key,
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": kms_key,
        },
        at,
    )


def _delete(name: str, request: dict, at: int, who: dict | None = None) -> dict:
    return record("ec2.amazonaws.com", name, request, identity=who or iam_user("mallory"), at=timedelta(seconds=at))


def _invoke(event: str, who: dict, **extra: object) -> dict:
    return record(BEDROCK, event, {"modelId": CLAUDE}, identity=who, **extra)


FOREIGN_KEY = f"arn:aws:kms:us-east-1:{FOREIGN_ACCOUNT}:key/{KEY}"
OWN_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY}"

CASES: dict[str, list[Case]] = {
    "kms_key_deletion_scheduled.yml": [
        fires("deletion scheduled", record(KMS, "ScheduleKeyDeletion", {"keyId": KEY, "pendingWindowInDays": 7})),
        fires("key disabled", record(KMS, "DisableKey", {"keyId": KEY})),
        silent("deletion cancelled", record(KMS, "CancelKeyDeletion", {"keyId": KEY})),
        silent("key rotation enabled", record(KMS, "EnableKeyRotation", {"keyId": KEY})),
    ],
    "s3_versions_listed_then_deleted.yml": [
        fires(
            "versions listed, then one batch delete",
            _list_versions(0),
            _data("DeleteObjects", {"bucketName": "victim", "delete": ""}, 5),
        ),
        fires(
            "versions listed, then versions deleted one by one",
            _list_versions(0),
            *(
                _data("DeleteObject", {"bucketName": "victim", "key": f"f{i}.txt", "versionId": f"v{i}"}, 5 + i)
                for i in range(3)
            ),
        ),
        silent(
            "batch delete without a version listing", _data("DeleteObjects", {"bucketName": "victim", "delete": ""}, 5)
        ),
        fires(
            "versions listed, then objects deleted one by one without a version id",
            _list_versions(0),
            *(_data("DeleteObject", {"bucketName": "victim", "key": f"f{i}.txt"}, 5 + i) for i in range(3)),
        ),
        silent(
            "current objects listed, then deleted (an application's clean-up)",
            _data("ListObjects", {"bucketName": "victim"}, 0),
            _data("DeleteObject", {"bucketName": "victim", "key": "f.txt"}, 5),
        ),
        silent(
            "listing and deletion in different buckets",
            _list_versions(0),
            _data("DeleteObjects", {"bucketName": "other", "delete": ""}, 5),
        ),
        silent(
            "listing by one principal, deletion by another",
            _list_versions(0, iam_user("auditor")),
            _data("DeleteObjects", {"bucketName": "victim", "delete": ""}, 5),
        ),
    ],
    "s3_object_reencrypted.yml": [
        fires("copied in place with SSE-C", _copy_sse_c("report.pdf")),
        fires(
            "uploaded with SSE-C",
            _data(
                "PutObject",
                {"bucketName": "victim", "key": "a.txt", "x-amz-server-side-encryption-customer-algorithm": "AES256"},
            ),
        ),
        fires("uploaded with another account's KMS key", _put_kms("a.txt", FOREIGN_KEY)),
        silent("own KMS key by ARN", _put_kms("a.txt", OWN_KEY)),
        silent("own KMS key by id", _put_kms("a.txt", KEY)),
        silent("plain upload", _data("PutObject", {"bucketName": "victim", "key": "a.txt"})),
        silent(
            "SSE-C read",
            _data(
                "GetObject",
                {"bucketName": "victim", "key": "a.txt", "x-amz-server-side-encryption-customer-algorithm": "AES256"},
            ),
        ),
    ],
    "s3_objects_mass_reencrypted.yml": [
        fires("ten objects re-encrypted with SSE-C", *(_copy_sse_c(f"file-{i}.csv", i) for i in range(10))),
        fires("ten objects with a foreign key", *(_put_kms(f"file-{i}.csv", FOREIGN_KEY, i) for i in range(10))),
        silent("nine objects", *(_copy_sse_c(f"file-{i}.csv", i) for i in range(9))),
        silent("one object ten times", *(_copy_sse_c("file.csv", i) for i in range(10))),
    ],
    "mass_resource_deletion.yml": [
        fires(
            "instances, volumes and snapshots deleted",
            *(
                _delete("TerminateInstances", {"instancesSet": {"items": [{"instanceId": f"i-0{i}"}]}}, i)
                for i in range(4)
            ),
            *(_delete("DeleteVolume", {"volumeId": f"vol-0{i}"}, 10 + i) for i in range(3)),
            *(_delete("DeleteSnapshot", {"snapshotId": f"snap-0{i}"}, 20 + i) for i in range(3)),
        ),
        silent(
            "nine deletions",
            *(_delete("DeleteSnapshot", {"snapshotId": f"snap-0{i}"}, i) for i in range(9)),
        ),
        silent(
            "ten deletions over a day",
            *(_delete("DeleteSnapshot", {"snapshotId": f"snap-0{i}"}, 3600 * i) for i in range(10)),
        ),
        silent(
            "ten deletions by ten principals",
            *(_delete("DeleteSnapshot", {"snapshotId": f"snap-0{i}"}, i, iam_user(f"u{i}")) for i in range(10)),
        ),
    ],
    "bedrock_model_invocation.yml": [
        fires("InvokeModel with a user key", _invoke("InvokeModel", iam_user("christophe"))),
        fires("Converse with a user key", _invoke("Converse", iam_user("christophe"))),
        fires("streaming by root", _invoke("InvokeModelWithResponseStream", root())),
        silent("an application role", _invoke("InvokeModel", assumed_role("chatbot", "task-1"))),
        silent(
            "the Bedrock console playground", _invoke("Converse", iam_user("dev"), sessionCredentialFromConsole="true")
        ),
        silent(
            "models listed",
            record(BEDROCK, "ListFoundationModels", None, identity=iam_user("christophe"), read_only=True),
        ),
    ],
    "bedrock_model_access_enabled.yml": [
        fires("entitlement requested", record(BEDROCK, "PutFoundationModelEntitlement", {"modelId": CLAUDE})),
        fires(
            "use case submitted", record(BEDROCK, "PutUseCaseForModelAccess", {"formData": "<sensitiveDataRemoved>"})
        ),
        Case(
            "invocation probed with an invalid request",
            [
                _invoke(
                    "InvokeModel",
                    assumed_role("x", "y"),
                    errorCode="ValidationException",
                    errorMessage="Malformed input request",
                )
            ],
            True,
            variants=False,
        ),
        Case(
            "invocation denied",
            [
                _invoke(
                    "InvokeModel",
                    assumed_role("x", "y"),
                    errorCode="AccessDeniedException",
                    errorMessage="not authorized",
                )
            ],
            True,
            variants=False,
        ),
        silent("a successful invocation", _invoke("InvokeModel", assumed_role("chatbot", "t"))),
        silent(
            "throttled invocation",
            _invoke("InvokeModel", assumed_role("chatbot", "t"), errorCode="ThrottlingException"),
        ),
    ],
    "console_login_without_mfa.yml": [
        fires(
            "IAM user without MFA",
            record(
                "signin.amazonaws.com",
                "ConsoleLogin",
                None,
                identity=iam_user("dave"),
                response={"ConsoleLogin": "Success"},
                additionalEventData={
                    "LoginTo": "https://console.aws.amazon.com/console/home",
                    "MobileVersion": "No",
                    "MFAUsed": "No",
                },
                eventType="AwsConsoleSignIn",
            ),
        ),
        silent(
            "with MFA",
            record(
                "signin.amazonaws.com",
                "ConsoleLogin",
                None,
                identity=iam_user("dave"),
                response={"ConsoleLogin": "Success"},
                additionalEventData={"MFAUsed": "Yes"},
            ),
        ),
        silent(
            "failed sign-in",
            record(
                "signin.amazonaws.com",
                "ConsoleLogin",
                None,
                identity=iam_user("dave"),
                response={"ConsoleLogin": "Failure"},
                additionalEventData={"MFAUsed": "No"},
                errorMessage="Failed authentication",
            ),
        ),
        silent(
            "SSO federated sign-in",
            record(
                "signin.amazonaws.com",
                "ConsoleLogin",
                None,
                identity=assumed_role("AWSReservedSSO_Admin_0123456789abcdef", "erin@example.com"),
                response={"ConsoleLogin": "Success"},
                additionalEventData={"MFAUsed": "No"},
            ),
        ),
    ],
    "root_account_activity.yml": [
        fires(
            "root creates a user",
            record("iam.amazonaws.com", "CreateUser", {"userName": "backup-admin"}, identity=root()),
        ),
        fires("root reads with an access key", record(S3, "ListBuckets", None, identity=root(), read_only=True)),
        fires(
            "root changes something in the console",
            record(
                "iam.amazonaws.com",
                "DeactivateMFADevice",
                {"userName": "root"},
                identity=root(),
                sessionCredentialFromConsole="true",
            ),
        ),
        silent(
            "the pages a root console session reads",
            record(
                "ce.amazonaws.com",
                "GetCostAndUsage",
                {},
                identity=root(),
                read_only=True,
                sessionCredentialFromConsole="true",
            ),
        ),
        silent(
            "a service acting as root",
            record(
                S3, "GetBucketAcl", {"bucketName": "logs"}, identity={**root(), "invokedBy": "cloudtrail.amazonaws.com"}
            ),
        ),
        silent("a user", record("iam.amazonaws.com", "CreateUser", {"userName": "carol"})),
    ],
}


@pytest.mark.parametrize(("file_name", "case"), params(CASES), ids=ids(CASES))
def test_impact_initial_access_rule(file_name: str, case: Case) -> None:
    check(file_name, case)
