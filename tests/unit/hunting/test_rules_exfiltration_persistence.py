"""Exfiltration, persistence and privilege escalation rules: request shapes, success and failure, look-alikes."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.cloudtrail.samples import ACCOUNT, FOREIGN_ACCOUNT, assumed_role, iam_user, record
from tests.unit.hunting.rule_spec import Case, check, fires, ids, params, silent

pytestmark = pytest.mark.unit

EC2 = "ec2.amazonaws.com"
RDS = "rds.amazonaws.com"
S3 = "s3.amazonaws.com"
IAM = "iam.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"


def _snapshot(items: list[dict], op: str = "add") -> dict:
    return record(
        EC2,
        "ModifySnapshotAttribute",
        {
            "snapshotId": "snap-0123456789abcdef0",
            "createVolumePermission": {op: {"items": items}},
            "attributeType": "CREATE_VOLUME_PERMISSION",
        },
    )


def _image(items: list[dict], op: str = "add") -> dict:
    return record(
        EC2,
        "ModifyImageAttribute",
        {
            "imageId": "ami-0abcdef1234567890",
            "launchPermission": {op: {"items": items}},
            "attributeType": "launchPermission",
        },
    )


def _rds(event: str, values: list[str], key: str = "valuesToAdd") -> dict:
    ident = "dBClusterSnapshotIdentifier" if "Cluster" in event else "dBSnapshotIdentifier"
    return record(RDS, event, {ident: "prod-final", "attributeName": "restore", key: values})


def _policy(statements: list[dict]) -> dict:
    return record(
        S3,
        "PutBucketPolicy",
        {
            "bucketName": "acso-prod-reports",
            "bucketPolicy": {"Version": "2012-10-17", "Statement": statements},
            "Host": "acso-prod-reports.s3.amazonaws.com",
            "policy": "",
        },
    )


def _allow(principal: object) -> dict:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::acso-prod-reports/*",
    }


TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::acso-prod-reports", "arn:aws:s3:::acso-prod-reports/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def _replication(account: str | None) -> dict:
    destination: dict = {"Bucket": "arn:aws:s3:::dest-bucket"}
    if account:
        destination |= {"Account": account, "AccessControlTranslation": {"Owner": "Destination"}}
    return record(
        S3,
        "PutBucketReplication",
        {
            "bucketName": "acso-prod-data",
            "replication": "",
            "ReplicationConfiguration": {
                "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
                "Rule": {"ID": "all", "Status": "Enabled", "Priority": 1, "Destination": destination},
            },
        },
    )


def _doc(statement: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)


def _trust(principal: object) -> str:
    return _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def _inline(event: str, action: object, who: str = "roleName") -> dict:
    return record(
        IAM,
        event,
        {
            who: "target",
            "policyName": "p",
            "policyDocument": _doc({"Effect": "Allow", "Action": action, "Resource": "*"}),
        },
    )


CASES: dict[str, list[Case]] = {
    "public_snapshot_or_ami.yml": [
        fires("EBS snapshot public", _snapshot([{"group": "all"}])),
        fires("AMI public", _image([{"group": "all"}])),
        fires("RDS snapshot public", _rds("ModifyDBSnapshotAttribute", ["all"])),
        fires("RDS cluster snapshot public", _rds("ModifyDBClusterSnapshotAttribute", ["all"])),
        silent("public sharing removed", _snapshot([{"group": "all"}], op="remove")),
        silent("RDS public sharing removed", _rds("ModifyDBSnapshotAttribute", ["all"], key="valuesToRemove")),
    ],
    "snapshot_or_ami_shared_with_account.yml": [
        fires("EBS snapshot to an account", _snapshot([{"userId": FOREIGN_ACCOUNT}])),
        fires("AMI to an account", _image([{"userId": FOREIGN_ACCOUNT}])),
        fires(
            "AMI to an organization",
            _image([{"organizationArn": "arn:aws:organizations::999988887777:organization/o-abc123def4"}]),
        ),
        fires(
            "AMI to an organizational unit",
            _image([{"organizationalUnitArn": "arn:aws:organizations::999988887777:ou/o-abc123def4/ou-ab12-cdef3456"}]),
        ),
        fires("RDS snapshot to an account", _rds("ModifyDBSnapshotAttribute", [FOREIGN_ACCOUNT])),
        fires("RDS cluster snapshot to an account", _rds("ModifyDBClusterSnapshotAttribute", [FOREIGN_ACCOUNT])),
        silent("sharing with an account revoked", _snapshot([{"userId": FOREIGN_ACCOUNT}], op="remove")),
        silent("RDS sharing revoked", _rds("ModifyDBSnapshotAttribute", [FOREIGN_ACCOUNT], key="valuesToRemove")),
        silent("snapshot made public (the public rule)", _snapshot([{"group": "all"}])),
        silent(
            "product codes added to an AMI",
            record(
                EC2, "ModifyImageAttribute", {"imageId": "ami-0a", "productCodes": {"items": [{"productCode": "x"}]}}
            ),
        ),
    ],
    "s3_bucket_made_public.yml": [
        fires(
            "ACL grant to AllUsers",
            record(
                S3,
                "PutBucketAcl",
                {
                    "bucketName": "b",
                    "AccessControlPolicy": {
                        "AccessControlList": {
                            "Grant": [
                                {
                                    "Grantee": {
                                        "xsi:type": "Group",
                                        "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                                    },
                                    "Permission": "READ",
                                }
                            ]
                        }
                    },
                },
            ),
        ),
        fires("canned public-read ACL", record(S3, "PutBucketAcl", {"bucketName": "b", "x-amz-acl": ["public-read"]})),
        fires("policy for any principal", _policy([_allow("*")])),
        fires("policy for AWS any", _policy([_allow({"AWS": "*"})])),
        fires(
            "public access block removed",
            record(S3, "DeleteBucketPublicAccessBlock", {"bucketName": "b", "publicAccessBlock": ""}),
        ),
        silent("own-account principal", _policy([_allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/reporting"})])),
        silent("TLS-only deny for any principal", _policy([_allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), TLS_DENY])),
        silent(
            "log delivery group ACL",
            record(S3, "PutBucketAcl", {"bucketName": "b", "x-amz-acl": ["log-delivery-write"]}),
        ),
    ],
    "s3_bucket_policy_foreign_principal.yml": [
        fires("foreign account root", _policy([_allow({"AWS": f"arn:aws:iam::{FOREIGN_ACCOUNT}:root"})])),
        fires("foreign role in a list", _policy([_allow({"AWS": [f"arn:aws:iam::{FOREIGN_ACCOUNT}:role/x"]})])),
        fires("bare foreign account id", _policy([_allow({"AWS": FOREIGN_ACCOUNT})])),
        silent("own role", _policy([_allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/reporting"})])),
        silent("an AWS service principal", _policy([_allow({"Service": "cloudtrail.amazonaws.com"})])),
        silent(
            "a foreign account denied",
            _policy([{**_allow({"AWS": f"arn:aws:iam::{FOREIGN_ACCOUNT}:root"}), "Effect": "Deny"}]),
        ),
    ],
    "s3_replication_to_foreign_account.yml": [
        fires("destination owned by another account", _replication(FOREIGN_ACCOUNT)),
        silent("same-account replication", _replication(None)),
        silent("destination account is the owner", _replication(ACCOUNT)),
    ],
    "iam_access_key_for_other_user.yml": [
        fires(
            "user for another user",
            record(IAM, "CreateAccessKey", {"userName": "svc-billing"}, identity=iam_user("mallory")),
        ),
        fires(
            "role session for a user",
            record(IAM, "CreateAccessKey", {"userName": "svc-billing"}, identity=assumed_role("admin", "x")),
        ),
        silent("own key", record(IAM, "CreateAccessKey", {"userName": "mallory"}, identity=iam_user("mallory"))),
        silent("own key, no userName", record(IAM, "CreateAccessKey", None, identity=iam_user("mallory"))),
    ],
    "iam_login_profile_for_other_user.yml": [
        fires(
            "created for another user",
            record(
                IAM,
                "CreateLoginProfile",
                {"userName": "svc", "passwordResetRequired": False},
                identity=iam_user("mallory"),
            ),
        ),
        fires(
            "changed for another user",
            record(
                IAM,
                "UpdateLoginProfile",
                {"userName": "svc", "passwordResetRequired": False},
                identity=iam_user("mallory"),
            ),
        ),
        silent(
            "own password changed",
            record(IAM, "UpdateLoginProfile", {"userName": "mallory"}, identity=iam_user("mallory")),
        ),
        silent("profile deleted", record(IAM, "DeleteLoginProfile", {"userName": "svc"}, identity=iam_user("mallory"))),
    ],
    "iam_role_trust_policy_changed.yml": [
        fires(
            "foreign account added",
            record(
                IAM,
                "UpdateAssumeRolePolicy",
                {"roleName": "app", "policyDocument": _trust({"AWS": f"arn:aws:iam::{FOREIGN_ACCOUNT}:root"})},
            ),
        ),
        silent("trust read", record(IAM, "GetRole", {"roleName": "app"}, read_only=True)),
    ],
    "iam_role_trusting_any_principal.yml": [
        fires(
            "new role trusting anyone",
            record(IAM, "CreateRole", {"roleName": "b", "assumeRolePolicyDocument": _trust("*")}),
        ),
        fires(
            "trust replaced with AWS any",
            record(IAM, "UpdateAssumeRolePolicy", {"roleName": "b", "policyDocument": _trust({"AWS": "*"})}),
        ),
        fires(
            "AWS any in a list",
            record(IAM, "UpdateAssumeRolePolicy", {"roleName": "b", "policyDocument": _trust({"AWS": ["*"]})}),
        ),
        silent(
            "service trust",
            record(
                IAM,
                "CreateRole",
                {"roleName": "l", "assumeRolePolicyDocument": _trust({"Service": "lambda.amazonaws.com"})},
            ),
        ),
        silent(
            "foreign account trust (the trust-change rule)",
            record(
                IAM,
                "CreateRole",
                {"roleName": "x", "assumeRolePolicyDocument": _trust({"AWS": f"arn:aws:iam::{FOREIGN_ACCOUNT}:root"})},
            ),
        ),
    ],
    "ec2_suspicious_key_pair.yml": [
        fires("created as xg1", record(EC2, "CreateKeyPair", {"keyName": "xg1", "keyType": "rsa", "keyFormat": "pem"})),
        fires(
            "imported as temp_key_pair",
            record(EC2, "ImportKeyPair", {"keyName": "temp_key_pair", "publicKeyMaterial": "<sensitiveDataRemoved>"}),
        ),
        silent(
            "a team's own key name", record(EC2, "CreateKeyPair", {"keyName": "web-prod-2026", "keyType": "ed25519"})
        ),
        silent(
            "the suspicious name looked up",
            record(EC2, "DescribeKeyPairs", {"keySet": {"items": [{"keyName": "xg1"}]}}),
        ),
    ],
    "lambda_code_or_layer_changed.yml": [
        fires(
            "code overwritten",
            record(
                LAMBDA,
                "UpdateFunctionCode20150331v2",
                {"functionName": "billing", "zipFile": "<sensitiveDataRemoved>", "publish": False},
            ),
        ),
        fires(
            "layer added",
            record(
                LAMBDA,
                "UpdateFunctionConfiguration20150331v2",
                {"functionName": "billing", "layers": [f"arn:aws:lambda:us-east-1:{FOREIGN_ACCOUNT}:layer:ext:1"]},
            ),
        ),
        fires(
            "layer version published",
            record(
                LAMBDA,
                "PublishLayerVersion20181031",
                {"layerName": "ext", "content": {"zipFile": "<sensitiveDataRemoved>"}},
            ),
        ),
        silent(
            "timeout changed",
            record(LAMBDA, "UpdateFunctionConfiguration20150331v2", {"functionName": "billing", "timeout": 30}),
        ),
        silent("function read", record(LAMBDA, "GetFunction20150331v2", {"functionName": "billing"}, read_only=True)),
    ],
    "lambda_public_access.yml": [
        fires(
            "invoke for any principal",
            record(
                LAMBDA,
                "AddPermission20150331v2",
                {
                    "functionName": "billing",
                    "statementId": "backdoor",
                    "action": "lambda:InvokeFunction",
                    "principal": "*",
                },
            ),
        ),
        fires(
            "function URL without auth",
            record(LAMBDA, "CreateFunctionUrlConfig20211031", {"functionName": "billing", "authType": "NONE"}),
        ),
        fires(
            "layer shared with everyone",
            record(
                LAMBDA,
                "AddLayerVersionPermission20181031",
                {
                    "layerName": "ext",
                    "versionNumber": 1,
                    "statementId": "pub",
                    "action": "lambda:GetLayerVersion",
                    "principal": "*",
                },
            ),
        ),
        silent(
            "invoke for S3",
            record(
                LAMBDA,
                "AddPermission20150331v2",
                {"functionName": "billing", "action": "lambda:InvokeFunction", "principal": "s3.amazonaws.com"},
            ),
        ),
        silent(
            "URL with IAM auth",
            record(LAMBDA, "CreateFunctionUrlConfig20211031", {"functionName": "b", "authType": "AWS_IAM"}),
        ),
    ],
    "rolesanywhere_trust_anchor.yml": [
        fires(
            "trust anchor created",
            record(
                "rolesanywhere.amazonaws.com",
                "CreateTrustAnchor",
                {
                    "name": "ta",
                    "enabled": True,
                    "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": "-----BEGIN"}},
                },
            ),
        ),
        fires(
            "profile created",
            record(
                "rolesanywhere.amazonaws.com",
                "CreateProfile",
                {"name": "p", "roleArns": [f"arn:aws:iam::{ACCOUNT}:role/admin"]},
            ),
        ),
        silent("anchors listed", record("rolesanywhere.amazonaws.com", "ListTrustAnchors", None, read_only=True)),
    ],
    "sts_federation_token.yml": [
        fires(
            "federation token",
            record(
                "sts.amazonaws.com",
                "GetFederationToken",
                {"name": "stratus_red_team", "policy": _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
                identity=iam_user("christophe"),
            ),
        ),
        silent("session token", record("sts.amazonaws.com", "GetSessionToken", {"durationSeconds": 3600})),
        silent(
            "role assumed",
            record(
                "sts.amazonaws.com", "AssumeRole", {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/x", "roleSessionName": "s"}
            ),
        ),
    ],
    "identity_provider_changed.yml": [
        fires(
            "SAML provider created",
            record(IAM, "CreateSAMLProvider", {"name": "corp", "sAMLMetadataDocument": "<md:EntityDescriptor/>"}),
        ),
        fires(
            "SAML metadata replaced",
            record(IAM, "UpdateSAMLProvider", {"sAMLProviderArn": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"}),
        ),
        fires(
            "OIDC provider created",
            record(
                IAM,
                "CreateOpenIDConnectProvider",
                {"url": "https://token.actions.githubusercontent.com", "clientIDList": ["sts.amazonaws.com"]},
            ),
        ),
        fires(
            "OIDC thumbprint changed",
            record(
                IAM,
                "UpdateOpenIDConnectProviderThumbprint",
                {"openIDConnectProviderArn": "arn", "thumbprintList": ["ab"]},
            ),
        ),
        silent("providers listed", record(IAM, "ListSAMLProviders", None, read_only=True)),
    ],
    "iam_privileged_policy_attached.yml": [
        fires(
            "admin to a user",
            record(
                IAM, "AttachUserPolicy", {"userName": "m", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
            ),
        ),
        fires(
            "admin to a role",
            record(
                IAM, "AttachRolePolicy", {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
            ),
        ),
        fires(
            "IAM full access to a group",
            record(IAM, "AttachGroupPolicy", {"groupName": "g", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"}),
        ),
        fires("inline star on a role", _inline("PutRolePolicy", "*")),
        fires("inline iam:* list on a user", _inline("PutUserPolicy", ["iam:*"], who="userName")),
        fires("inline star on a group", _inline("PutGroupPolicy", "*", who="groupName")),
        silent(
            "read-only policy",
            record(IAM, "AttachRolePolicy", {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        ),
        silent("scoped inline policy", _inline("PutRolePolicy", ["logs:PutLogEvents"])),
        silent(
            "policy detached",
            record(
                IAM, "DetachUserPolicy", {"userName": "m", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
            ),
        ),
    ],
    "iam_policy_version_privesc.yml": [
        fires(
            "new default version",
            record(
                IAM,
                "CreatePolicyVersion",
                {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/p", "policyDocument": "{}", "setAsDefault": True},
            ),
        ),
        fires(
            "old version made default",
            record(
                IAM, "SetDefaultPolicyVersion", {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/p", "versionId": "v1"}
            ),
        ),
        silent(
            "non-default version",
            record(
                IAM,
                "CreatePolicyVersion",
                {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/p", "policyDocument": "{}", "setAsDefault": False},
            ),
        ),
    ],
    "iam_passrole_denied_or_profile_swapped.yml": [
        fires(
            "instance profile attached to a running instance",
            record(
                EC2,
                "AssociateIamInstanceProfile",
                {"instanceId": "i-0a", "iamInstanceProfile": {"name": "admin-profile"}},
            ),
        ),
        fires(
            "instance profile swapped",
            record(
                EC2,
                "ReplaceIamInstanceProfileAssociation",
                {"associationId": "iip-assoc-0a", "iamInstanceProfile": {"name": "admin"}},
            ),
        ),
        Case(
            "function with a role it may not pass",
            [
                record(
                    LAMBDA,
                    "CreateFunction20150331",
                    {"functionName": "x", "role": f"arn:aws:iam::{ACCOUNT}:role/admin"},
                    errorCode="AccessDeniedException",
                    errorMessage=(
                        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: iam:PassRole on "
                        f"resource: arn:aws:iam::{ACCOUNT}:role/admin"
                    ),
                )
            ],
            True,
            variants=False,
        ),
        silent(
            "function created",
            record(LAMBDA, "CreateFunction20150331", {"functionName": "x", "role": f"arn:aws:iam::{ACCOUNT}:role/l"}),
        ),
        silent(
            "function refused for another reason",
            record(
                LAMBDA,
                "CreateFunction20150331",
                {"functionName": "x"},
                errorCode="InvalidParameterValueException",
                errorMessage="bad zip",
            ),
        ),
    ],
}


@pytest.mark.parametrize(("file_name", "case"), params(CASES), ids=ids(CASES))
def test_exfiltration_persistence_privilege_rule(file_name: str, case: Case) -> None:
    check(file_name, case)
