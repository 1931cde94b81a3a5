"""Export worker tests: moto in-process (DynamoDB, S3, SQS), tables and buckets made once per module.

Each test works in an account of its own, so tables need no emptying between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fiscal_core.storage.tables import bind_tables
from local.resources import create_tables
from tests.unit.exports.seed import DOCS_BUCKET, EXPORTS_BUCKET, PREFIX, REGION, Seeder


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    """moto for the module: every table, the two buckets and a queue; the clients to reach them."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        with mock_aws():
            create_tables(boto3.client("dynamodb", region_name=REGION), PREFIX)
            bind_tables(PREFIX, region=REGION)
            s3: Any = boto3.client("s3", region_name=REGION)
            for bucket in (DOCS_BUCKET, EXPORTS_BUCKET):
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            sqs = boto3.client("sqs", region_name=REGION)
            queue_url = sqs.create_queue(QueueName="exports")["QueueUrl"]
            yield {"s3": s3, "sqs": sqs, "queue_url": queue_url}


@pytest.fixture
def seeder(aws: dict[str, Any]) -> Seeder:
    """Documents of a fresh account, its XMLs in the documents bucket."""
    bind_tables(PREFIX, region=REGION)  # another module's fixture may have bound other tables
    return Seeder(aws["s3"], account_id=f"acc{uuid.uuid4().hex[:10]}")
