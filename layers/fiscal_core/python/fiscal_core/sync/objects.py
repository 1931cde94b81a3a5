"""The documents bucket as the sync uses it: many XML puts at once, and small JSON notes.

The one place of the sync that calls S3. Each XML is written with its SHA-256 twice: as
``ChecksumSHA256``, which S3 verifies on arrival (a body damaged on the way is refused, not
stored), and as the ``sha256`` metadata, readable with a HEAD. Puts of a page run on a small
thread pool: S3 latency, not CPU, bounds a page, so they overlap.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from fiscal_core.storage.errors import StorageUnavailable
from fiscal_core.sync.items import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

XML_CONTENT_TYPE = "application/xml"


class ObjectStore:
    """Put, read and delete objects of one bucket; errors become StorageUnavailable (retryable)."""

    def __init__(self, s3: S3Client, bucket: str, executor: Executor) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._executor = executor

    @property
    def bucket(self) -> str:
        """The bucket's name."""
        return self._bucket

    def put_xml(self, objects: Sequence[StoredObject]) -> None:
        """Write every object, concurrently; returns once all are durable, raises if any failed."""
        if len(objects) == 1:
            self._put_xml(objects[0])
            return
        # list() waits for every put and re-raises the first failure.
        list(self._executor.map(self._put_xml, objects))

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Write one object as is."""
        with _s3_call(f"write s3://{self._bucket}/{key}"):
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        with _s3_call(f"read s3://{self._bucket}/{key}"):
            try:
                return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                    return None
                raise

    def keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix``, in key order."""
        found: list[str] = []
        with _s3_call(f"list s3://{self._bucket}/{prefix}"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            ):
                found += [item["Key"] for item in page.get("Contents", [])]
        return found

    def delete(self, key: str) -> None:
        """Remove an object (nothing happens when it does not exist)."""
        with _s3_call(f"delete s3://{self._bucket}/{key}"):
            self._s3.delete_object(Bucket=self._bucket, Key=key)

    def _put_xml(self, item: StoredObject) -> None:
        checksum = base64.b64encode(bytes.fromhex(item.sha256)).decode()
        with _s3_call(f"write s3://{self._bucket}/{item.key}"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=item.key,
                Body=item.body,
                ContentType=XML_CONTENT_TYPE,
                ChecksumSHA256=checksum,
                Metadata={"sha256": item.sha256},
            )


@contextmanager
def _s3_call(action: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise StorageUnavailable(f"could not {action}: {code}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"could not {action}: {exc}") from exc
