"""S3: the object store for artifacts, raw feeds and evidence."""

from __future__ import annotations

from typing import Any

from acso_shared.aws.clients import AwsClientFactory, translate_aws_error


class ObjectStore:
    def __init__(self, clients: AwsClientFactory, bucket: str, *, kms_key_id: str | None = None) -> None:
        self._clients = clients
        self.bucket = bucket
        self._kms_key_id = kms_key_id

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> str:
        client = await self._clients.client("s3")
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
            "Metadata": metadata or {},
        }
        if self._kms_key_id:
            kwargs["ServerSideEncryption"] = "aws:kms"
            kwargs["SSEKMSKeyId"] = self._kms_key_id
        try:
            await client.put_object(**kwargs)
        except Exception as err:
            raise translate_aws_error(err, f"s3:PutObject {key}") from err
        return f"s3://{self.bucket}/{key}"

    async def get(self, key: str) -> bytes:
        client = await self._clients.client("s3")
        try:
            response = await client.get_object(Bucket=self.bucket, Key=key)
            async with response["Body"] as stream:
                data: bytes = await stream.read()
        except Exception as err:
            raise translate_aws_error(err, f"s3:GetObject {key}") from err
        return data

    async def list_keys(self, prefix: str) -> list[str]:
        client = await self._clients.client("s3")
        keys: list[str] = []
        try:
            paginator = client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as err:
            raise translate_aws_error(err, f"s3:ListObjectsV2 {prefix}") from err
        return keys
