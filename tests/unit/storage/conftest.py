"""Storage tests run against moto's in-process DynamoDB, with every table created from specs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fiscal_core.storage.tables import bind_tables, physical_table_name, table_specs
from local.resources import create_tables

PREFIX = "test"
REGION = "sa-east-1"


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """Fake credentials and region, and moto's mock of every AWS service, per test module."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        with mock_aws():
            yield


@pytest.fixture(scope="module")
def created_tables(aws: None) -> Any:
    """Every table created once per module, models bound; tests that only read share it."""
    client = boto3.client("dynamodb", region_name=REGION)
    create_tables(client, PREFIX)  # as the local plane does, from table_specs()
    bind_tables(PREFIX, region=REGION)
    return client


@pytest.fixture
def tables(created_tables: Any) -> Any:
    """Every table created from ``table_specs()``, empty, and every model bound to it.

    Creating seventeen tables costs far more than emptying them, so they are created once
    per module and emptied before each test.
    """
    for spec in table_specs():
        name = physical_table_name(PREFIX, spec.logical_name)
        keys = [k.name for k in (spec.hash_key, spec.range_key) if k is not None]
        for page in created_tables.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                created_tables.delete_item(TableName=name, Key={k: item[k] for k in keys})
    bind_tables(PREFIX, region=REGION)
    return created_tables
