"""Provision every resource of the manifest into an AWS endpoint (the local emulator, or LocalStack).

Idempotent: what exists is found by name and kept. In AWS accounts Terraform owns these
resources; this path is for the emulator, tests and the compose init step, and reads the same
manifest so the names cannot drift.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from acso_shared.aws.clients import AwsClientFactory, error_code
from acso_shared.logging import get_logger
from acso_shared.resources import QueueSpec, ResourceManifest, TableSpec

log = get_logger("acso.provision")


@dataclass
class ProvisionedStack:
    """Identifiers AWS assigns (not derivable from names), handed to the services as settings."""

    env: str
    region: str
    account_id: str
    kms_key_id: str = ""
    user_pool_id: str = ""
    app_client_id: str = ""
    machine_client_id: str = ""
    machine_client_secret: str = ""
    demo_passwords: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProvisionedStack:
        return cls(**json.loads(text))


def _password() -> str:
    # Satisfies Cognito's default policy: upper, lower, digit, symbol.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20)) + "aZ9!"


class Provisioner:
    def __init__(self, clients: AwsClientFactory, manifest: ResourceManifest) -> None:
        self._clients = clients
        self._m = manifest

    async def provision(self, previous: ProvisionedStack | None = None) -> ProvisionedStack:
        stack = ProvisionedStack(env=self._m.env, region=self._m.region, account_id=self._m.account_id)
        if previous is not None:
            stack.demo_passwords = dict(previous.demo_passwords)
        stack.kms_key_id = await self._kms_key()
        for queue in self._m.all_queues():
            stack.queue_urls[queue.name] = await self._queue(queue)
        for table in self._m.tables.values():
            await self._table(table)
        for bucket in (self._m.artifacts_bucket, self._m.threat_intel_bucket):
            await self._bucket(bucket, stack.kms_key_id)
        topic_arn = await self._topic()
        await self._bus_and_rules(topic_arn)
        await self._secrets(stack.kms_key_id)
        await self._cognito(stack)
        log.info("provisioned", env=self._m.env, queues=len(stack.queue_urls))
        return stack

    async def _kms_key(self) -> str:
        kms = await self._clients.client("kms")
        try:
            alias = await kms.describe_key(KeyId=self._m.kms_alias)
            return str(alias["KeyMetadata"]["KeyId"])
        except ClientError as err:
            if error_code(err) != "NotFoundException":
                raise
        key = await kms.create_key(Description=f"ACSO {self._m.env} data key", KeyUsage="ENCRYPT_DECRYPT")
        key_id = str(key["KeyMetadata"]["KeyId"])
        await kms.create_alias(AliasName=self._m.kms_alias, TargetKeyId=key_id)
        return key_id

    async def _queue(self, spec: QueueSpec) -> str:
        sqs = await self._clients.client("sqs")
        dlq = await sqs.create_queue(
            QueueName=spec.dlq_name, Attributes={"MessageRetentionPeriod": str(spec.dlq_retention_s)}
        )
        dlq_attrs = await sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])
        dlq_arn = dlq_attrs["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)})
        attributes = {
            "VisibilityTimeout": str(spec.visibility_timeout_s),
            "MessageRetentionPeriod": str(spec.message_retention_s),
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": redrive,
        }
        try:
            queue = await sqs.create_queue(QueueName=spec.name, Attributes=attributes)
        except ClientError as err:
            if error_code(err) not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            queue = await sqs.get_queue_url(QueueName=spec.name)
            await sqs.set_queue_attributes(QueueUrl=queue["QueueUrl"], Attributes=attributes)
        return str(queue["QueueUrl"])

    async def _table(self, spec: TableSpec) -> None:
        dynamodb = await self._clients.client("dynamodb")
        keys = [{"AttributeName": spec.key.partition_key, "KeyType": "HASH"}]
        definitions = [{"AttributeName": spec.key.partition_key, "AttributeType": "S"}]
        if spec.key.sort_key:
            keys.append({"AttributeName": spec.key.sort_key, "KeyType": "RANGE"})
            definitions.append({"AttributeName": spec.key.sort_key, "AttributeType": "S"})
        try:
            await dynamodb.create_table(
                TableName=spec.name, KeySchema=keys, AttributeDefinitions=definitions, BillingMode="PAY_PER_REQUEST"
            )
        except ClientError as err:
            if error_code(err) != "ResourceInUseException":
                raise
            return
        await dynamodb.get_waiter("table_exists").wait(TableName=spec.name, WaiterConfig={"Delay": 1})
        if spec.key.ttl_attribute:
            await dynamodb.update_time_to_live(
                TableName=spec.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.key.ttl_attribute},
            )

    async def _bucket(self, name: str, kms_key_id: str) -> None:
        s3 = await self._clients.client("s3")
        kwargs: dict[str, Any] = {"Bucket": name}
        if self._m.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._m.region}
        try:
            await s3.create_bucket(**kwargs)
        except ClientError as err:
            if error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        await s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        await s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        await s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    async def _topic(self) -> str:
        sns = await self._clients.client("sns")
        topic = await sns.create_topic(Name=self._m.notifications_topic)
        return str(topic["TopicArn"])

    async def _bus_and_rules(self, topic_arn: str) -> None:
        events = await self._clients.client("events")
        sqs = await self._clients.client("sqs")
        try:
            await events.create_event_bus(Name=self._m.event_bus)
        except ClientError as err:
            if error_code(err) != "ResourceAlreadyExistsException":
                raise
        rule_arns_by_queue: dict[str, tuple[str, list[str]]] = {}
        for rule in self._m.event_rules:
            rule_args: dict[str, Any] = {
                "Name": rule.name,
                "EventBusName": rule.bus_name,
                "State": "ENABLED",
                "Description": rule.description,
            }
            if rule.schedule_expression:
                rule_args["ScheduleExpression"] = rule.schedule_expression
            else:
                rule_args["EventPattern"] = json.dumps(rule.event_pattern)
            rule_arn = (await events.put_rule(**rule_args))["RuleArn"]
            if rule.target_queue:
                url = (await sqs.get_queue_url(QueueName=rule.target_queue))["QueueUrl"]
                attributes = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                queue_arn = attributes["Attributes"]["QueueArn"]
                rule_arns_by_queue.setdefault(url, (queue_arn, []))[1].append(rule_arn)
                target_arn = queue_arn
            else:
                target_arn = topic_arn
            target: dict[str, Any] = {"Id": "acso", "Arn": target_arn}
            if rule.input_template:
                target["InputTransformer"] = {
                    "InputPathsMap": rule.input_paths or {},
                    "InputTemplate": rule.input_template,
                }
            await events.put_targets(Rule=rule.name, EventBusName=rule.bus_name, Targets=[target])
        # One policy per queue naming every rule that may send to it (a second set would replace the first).
        for url, (queue_arn, rule_arns) in rule_arns_by_queue.items():
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllowEventBridgeRules",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
                    }
                ],
            }
            await sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    async def _secrets(self, kms_key_id: str) -> None:
        secretsmanager = await self._clients.client("secretsmanager")
        for logical, name in self._m.secrets.items():
            try:
                await secretsmanager.describe_secret(SecretId=name)
                continue
            except ClientError as err:
                if error_code(err) != "ResourceNotFoundException":
                    raise
            # Integration secrets start as generated signing keys; operators replace them with real credentials.
            value = json.dumps({"signing_secret": secrets.token_urlsafe(32)}) if logical == "webhook_signing" else "{}"
            await secretsmanager.create_secret(Name=name, SecretString=value, KmsKeyId=kms_key_id)

    async def _cognito(self, stack: ProvisionedStack) -> None:
        idp = await self._clients.client("cognito-idp")
        spec = self._m.cognito
        pools = await idp.list_user_pools(MaxResults=60)
        pool_id = next((p["Id"] for p in pools.get("UserPools", []) if p["Name"] == spec.user_pool_name), None)
        if pool_id is None:
            created = await idp.create_user_pool(
                PoolName=spec.user_pool_name,
                Policies={
                    "PasswordPolicy": {
                        "MinimumLength": 14,
                        "RequireUppercase": True,
                        "RequireLowercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                },
                MfaConfiguration="OFF",
            )
            pool_id = created["UserPool"]["Id"]
        stack.user_pool_id = pool_id
        existing_groups = {g["GroupName"] for g in (await idp.list_groups(UserPoolId=pool_id)).get("Groups", [])}
        for group in spec.groups:
            if group not in existing_groups:
                await idp.create_group(GroupName=group, UserPoolId=pool_id, Description=f"ACSO role {group}")
        clients = {
            c["ClientName"]: c["ClientId"]
            for c in (await idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)).get("UserPoolClients", [])
        }
        if spec.app_client_name not in clients:
            app = await idp.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=spec.app_client_name,
                GenerateSecret=False,
                ExplicitAuthFlows=[
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                ],
            )
            clients[spec.app_client_name] = app["UserPoolClient"]["ClientId"]
        stack.app_client_id = clients[spec.app_client_name]
        try:
            await idp.describe_resource_server(UserPoolId=pool_id, Identifier=spec.resource_server_identifier)
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            await idp.create_resource_server(
                UserPoolId=pool_id,
                Identifier=spec.resource_server_identifier,
                Name="ACSO API",
                Scopes=[{"ScopeName": s, "ScopeDescription": f"ACSO {s}"} for s in spec.machine_scopes],
            )
        if spec.machine_client_name not in clients:
            machine = await idp.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=spec.machine_client_name,
                GenerateSecret=True,
                AllowedOAuthFlows=["client_credentials"],
                AllowedOAuthFlowsUserPoolClient=True,
                AllowedOAuthScopes=[f"{spec.resource_server_identifier}/{s}" for s in spec.machine_scopes],
            )
            clients[spec.machine_client_name] = machine["UserPoolClient"]["ClientId"]
        stack.machine_client_id = clients[spec.machine_client_name]
        described = await idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=stack.machine_client_id)
        stack.machine_client_secret = described["UserPoolClient"].get("ClientSecret", "")
        for role, username in self._m.demo_users.items():
            password = stack.demo_passwords.get(role) or _password()
            try:
                await idp.admin_get_user(UserPoolId=pool_id, Username=username)
            except ClientError as err:
                if error_code(err) != "UserNotFoundException":
                    raise
                await idp.admin_create_user(
                    UserPoolId=pool_id,
                    Username=username,
                    MessageAction="SUPPRESS",
                    UserAttributes=[{"Name": "email", "Value": f"{username}@acso.example"}],
                )
            await idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
            await idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role)
            stack.demo_passwords[role] = password


async def user_token(clients: AwsClientFactory, stack: ProvisionedStack, username: str, password: str) -> str:
    """An access token for a user, by the admin password flow (what a login page would do)."""
    idp = await clients.client("cognito-idp")
    response = await idp.admin_initiate_auth(
        UserPoolId=stack.user_pool_id,
        ClientId=stack.app_client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(response["AuthenticationResult"]["AccessToken"])
