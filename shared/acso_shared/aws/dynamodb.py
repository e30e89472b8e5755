"""DynamoDB: the agent registry, the idempotency store and the agent state store."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from acso_shared.aws.clients import AwsClientFactory, error_code, translate_aws_error

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB attribute values (floats become Decimals)."""
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


class AgentRegistry:
    """One item per agent: its status, version and last heartbeat."""

    def __init__(self, clients: AwsClientFactory, table_name: str) -> None:
        self._clients = clients
        self._table = table_name

    async def heartbeat(self, agent: str, fields: dict[str, Any]) -> None:
        """Record liveness; an update, so attributes others set (the last ping) survive."""
        await self.update(agent, {"last_heartbeat": time.time(), **fields})

    async def update(self, agent: str, fields: dict[str, Any]) -> None:
        """Set some attributes on an agent's item without touching the others."""
        client = await self._clients.client("dynamodb")
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _serializer.serialize(_to_dynamo(v)) for i, v in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        try:
            await client.update_item(
                TableName=self._table,
                Key=to_item({"agent": agent}),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:UpdateItem agent-registry") from err

    async def all(self) -> list[dict[str, Any]]:
        client = await self._clients.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        try:
            while True:
                response = await client.scan(**kwargs)
                items.extend(from_item(i) for i in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    return items
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:Scan agent-registry") from err


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # ours now: do the work
    COMPLETED = "completed"  # done before: a duplicate delivery, skip the side effects
    IN_PROGRESS = "in_progress"  # someone else holds a live lease: leave the message for later


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    result: dict[str, Any] | None = None


class IdempotencyStore:
    """Claims on idempotency keys by conditional writes, so each key's side effects happen once.

    A claim is a lease: a worker that dies mid-work stops renewing it, and after `lease_s` another
    delivery of the same message may claim the key again.
    """

    def __init__(self, clients: AwsClientFactory, table_name: str, *, ttl_s: int = 7 * 24 * 3600) -> None:
        self._clients = clients
        self._table = table_name
        self._ttl_s = ttl_s

    async def claim(self, key: str, owner: str, *, lease_s: float) -> Claim:
        client = await self._clients.client("dynamodb")
        now = time.time()
        item = to_item(
            {
                "idempotency_key": key,
                "status": "in_progress",
                "owner": owner,
                "lease_expires_at": now + lease_s,
                "expires_at": int(now + self._ttl_s),
            }
        )
        try:
            await client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(idempotency_key) OR (#s = :in_progress AND lease_expires_at < :now)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item({":in_progress": "in_progress", ":now": now}),
                # A failed condition answers with the item that failed it: no second read for a duplicate.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return Claim(ClaimOutcome.CLAIMED)
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise translate_aws_error(err, "dynamodb:PutItem idempotency") from err
            returned = cast("dict[str, Any] | None", err.response.get("Item"))
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:PutItem idempotency") from err
        existing = from_item(returned) if returned else await self.get(key)
        if existing and existing.get("status") == "completed":
            return Claim(ClaimOutcome.COMPLETED, existing.get("result"))
        return Claim(ClaimOutcome.IN_PROGRESS)

    async def renew(self, key: str, owner: str, *, lease_s: float) -> None:
        client = await self._clients.client("dynamodb")
        try:
            await client.update_item(
                TableName=self._table,
                Key=to_item({"idempotency_key": key}),
                UpdateExpression="SET lease_expires_at = :lease",
                ConditionExpression="#o = :owner AND #s = :in_progress",
                ExpressionAttributeNames={"#o": "owner", "#s": "status"},
                ExpressionAttributeValues=to_item(
                    {":lease": time.time() + lease_s, ":owner": owner, ":in_progress": "in_progress"}
                ),
            )
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:UpdateItem idempotency") from err

    async def complete(self, key: str, owner: str, result: dict[str, Any] | None = None) -> None:
        client = await self._clients.client("dynamodb")
        values: dict[str, Any] = {"idempotency_key": key, "status": "completed", "owner": owner}
        values["completed_at"] = time.time()
        values["expires_at"] = int(time.time() + self._ttl_s)
        if result is not None:
            values["result"] = result
        try:
            await client.put_item(TableName=self._table, Item=to_item(values))
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:PutItem idempotency") from err

    async def release(self, key: str, owner: str) -> None:
        """Give up a claim after a failure so a retry may claim it at once."""
        client = await self._clients.client("dynamodb")
        try:
            await client.delete_item(
                TableName=self._table,
                Key=to_item({"idempotency_key": key}),
                ConditionExpression="#o = :owner AND #s = :in_progress",
                ExpressionAttributeNames={"#o": "owner", "#s": "status"},
                ExpressionAttributeValues=to_item({":owner": owner, ":in_progress": "in_progress"}),
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise translate_aws_error(err, "dynamodb:DeleteItem idempotency") from err
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:DeleteItem idempotency") from err

    async def get(self, key: str) -> dict[str, Any] | None:
        client = await self._clients.client("dynamodb")
        try:
            response = await client.get_item(
                TableName=self._table, Key=to_item({"idempotency_key": key}), ConsistentRead=True
            )
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:GetItem idempotency") from err
        item = response.get("Item")
        return from_item(item) if item else None

    async def claim_once(self, key: str) -> bool:
        """Record `key` as used; False if it was used before (replay protection)."""
        client = await self._clients.client("dynamodb")
        now = time.time()
        try:
            await client.put_item(
                TableName=self._table,
                Item=to_item({"idempotency_key": key, "status": "completed", "expires_at": int(now + self._ttl_s)}),
                ConditionExpression="attribute_not_exists(idempotency_key)",
            )
            return True
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise translate_aws_error(err, "dynamodb:PutItem idempotency") from err


class StateStore:
    """Agent state: small documents keyed by (pk, sk), optionally expiring."""

    def __init__(self, clients: AwsClientFactory, table_name: str) -> None:
        self._clients = clients
        self._table = table_name

    async def put(self, pk: str, sk: str, value: dict[str, Any], *, ttl_s: int | None = None) -> None:
        client = await self._clients.client("dynamodb")
        values: dict[str, Any] = {"pk": pk, "sk": sk, "value": value}
        if ttl_s:
            values["expires_at"] = int(time.time() + ttl_s)
        try:
            await client.put_item(TableName=self._table, Item=to_item(values))
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:PutItem agent-state") from err

    async def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        client = await self._clients.client("dynamodb")
        try:
            response = await client.get_item(
                TableName=self._table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:GetItem agent-state") from err
        item = response.get("Item")
        if not item:
            return None
        decoded = from_item(item)
        # moto never deletes expired items (TTL is accepted, not enforced): honour it on read.
        if decoded.get("expires_at") and decoded["expires_at"] < time.time():
            return None
        value = decoded.get("value")
        return value if isinstance(value, dict) else None

    async def delete(self, pk: str, sk: str) -> None:
        """Remove one document; removing one that is not there is not an error."""
        client = await self._clients.client("dynamodb")
        try:
            await client.delete_item(TableName=self._table, Key=to_item({"pk": pk, "sk": sk}))
        except Exception as err:
            raise translate_aws_error(err, "dynamodb:DeleteItem agent-state") from err

    async def query(self, pk: str) -> dict[str, dict[str, Any]]:
        """Every unexpired document under `pk`, by sort key (all pages)."""
        client = await self._clients.client("dynamodb")
        documents: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": pk}),
            "ConsistentRead": True,
        }
        now = time.time()
        while True:
            try:
                response = await client.query(**kwargs)
            except Exception as err:
                raise translate_aws_error(err, "dynamodb:Query agent-state") from err
            for item in response.get("Items", []):
                decoded = from_item(item)
                if decoded.get("expires_at") and decoded["expires_at"] < now:
                    continue
                if isinstance(decoded.get("value"), dict):
                    documents[str(decoded["sk"])] = decoded["value"]
            if not response.get("LastEvaluatedKey"):
                return documents
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
