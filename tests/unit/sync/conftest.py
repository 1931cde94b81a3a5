"""The sync's unit tests: moto in-process (DynamoDB, S3), fakes for SEFAZ and certificates.

``harness`` wires a real :class:`~fiscal_core.sync.worker.SyncWorker` over moto with a clock the
test moves, a fake distribution per family and a crash hook the test can arm.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fiscal_core.storage.tables import bind_tables, physical_table_name, table_specs
from local.resources import create_tables
from tests.unit.sync.harness import BUCKET, REGION, Harness

PREFIX = "synctest"


@pytest.fixture(scope="package")
def aws() -> Iterator[None]:
    """Fake credentials, no endpoint, and moto's mock of every AWS service, for this package only.

    Creating the seventeen tables costs seconds; every test empties them instead (``clean``).
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            create_tables(client, PREFIX)
            boto3.client("s3", region_name=REGION).create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"}
            )
            yield


@pytest.fixture(scope="package")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.fixture
def clean(aws: None) -> Any:
    """Every table empty, the bucket empty, the models bound."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for spec in table_specs():
        name = physical_table_name(PREFIX, spec.logical_name)
        keys = [k.name for k in (spec.hash_key, spec.range_key) if k is not None]
        names = {f"#k{i}": key for i, key in enumerate(keys)}
        scan = dynamodb.get_paginator("scan").paginate(
            TableName=name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
        )
        found = [{k: item[k] for k in keys} for page in scan for item in page["Items"]]
        for start in range(0, len(found), 25):
            requests: list[Any] = [{"DeleteRequest": {"Key": key}} for key in found[start : start + 25]]
            dynamodb.batch_write_item(RequestItems={name: requests})
    s3 = boto3.client("s3", region_name=REGION)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    bind_tables(PREFIX, region=REGION)
    return s3


@pytest.fixture
def harness(clean: Any, executor: ThreadPoolExecutor) -> Harness:
    """A worker over moto, with fake SEFAZ services and a clock at 2026-03-10 12:00 UTC."""
    return Harness(clean, executor)
