"""Service roles and log destinations some remediations need (as ASR's runbooks create them).

Each is created once per account, under an `acso-<env>-` name, and found again by that name:
remediations running at the same time, or retried, share one.
"""

from __future__ import annotations

import json
from typing import Any

from acso_incident_response.actions.base import ActionContext, aws_code, call
from acso_shared.aws.clients import translate_aws_error


async def ensure_service_role(
    ctx: ActionContext,
    name: str,
    service: str,
    *,
    managed_policies: tuple[str, ...] = (),
    inline_policy: dict[str, Any] | None = None,
) -> str:
    """The ARN of role `name` that `service` may assume, created with its policies when missing."""
    iam = await ctx.clients.client("iam")
    try:
        return str((await iam.get_role(RoleName=name))["Role"]["Arn"])
    except Exception as err:
        if aws_code(err) != "NoSuchEntity":
            raise translate_aws_error(err, "iam:GetRole") from err
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        created = await iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"ACSO remediation: lets {service} deliver to this account",
            Tags=[{"Key": "acso:managed", "Value": "true"}],
        )
        arn = str(created["Role"]["Arn"])
    except Exception as err:
        if aws_code(err) != "EntityAlreadyExists":
            raise translate_aws_error(err, "iam:CreateRole") from err
        arn = str((await iam.get_role(RoleName=name))["Role"]["Arn"])
    for policy in managed_policies:
        await call(ctx, "iam", "AttachRolePolicy", RoleName=name, PolicyArn=policy)
    if inline_policy is not None:
        await call(
            ctx,
            "iam",
            "PutRolePolicy",
            RoleName=name,
            PolicyName="acso-delivery",
            PolicyDocument=json.dumps(inline_policy),
        )
    return arn


_DELIVERY_SERVICES = (
    "cloudtrail.amazonaws.com",
    "config.amazonaws.com",
    "delivery.logs.amazonaws.com",
    "logging.s3.amazonaws.com",
)


def log_bucket_name(ctx: ActionContext, account: str) -> str:
    """The account's bucket for the logs remediations turn on (flow logs, trails, Config, access logs)."""
    return f"acso-{ctx.settings.env}-security-logs-{account}-{ctx.clients.region}"


async def ensure_log_bucket(ctx: ActionContext, account: str) -> str:
    """The log bucket's name, created private and encrypted, with the delivery services' grants."""
    name = log_bucket_name(ctx, account)
    s3 = await ctx.clients.client("s3")
    try:
        await s3.head_bucket(Bucket=name)
        return name
    except Exception as err:
        if aws_code(err) not in ("404", "NoSuchBucket", "NotFound"):
            raise translate_aws_error(err, "s3:HeadBucket") from err
    kwargs: dict[str, Any] = {"Bucket": name}
    if ctx.clients.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.clients.region}
    try:
        await s3.create_bucket(**kwargs)
    except Exception as err:
        if aws_code(err) != "BucketAlreadyOwnedByYou":
            raise translate_aws_error(err, "s3:CreateBucket") from err
    arn = f"arn:aws:s3:::{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AcsoLogDeliveryAclCheck",
                "Effect": "Allow",
                "Principal": {
                    "Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com", "delivery.logs.amazonaws.com"]
                },
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": arn,
            },
            *(
                {
                    "Sid": f"AcsoLogDeliveryWrite{i}",
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
                for i, service in enumerate(_DELIVERY_SERVICES)
            ),
            {
                "Sid": "AcsoDenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    await call(
        ctx,
        "s3",
        "PutPublicAccessBlock",
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    await call(
        ctx,
        "s3",
        "PutBucketEncryption",
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    await call(ctx, "s3", "PutBucketPolicy", Bucket=name, Policy=json.dumps(policy))
    return name


LOG_BUCKET_IAM = (
    "s3:ListBucket",
    "s3:CreateBucket",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPolicy",
)
ROLE_IAM = ("iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:PassRole")
