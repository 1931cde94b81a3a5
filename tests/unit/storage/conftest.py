"""Storage tests run against moto's in-process DynamoDB, with every table created from specs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fiscal_core.storage.schema import IndexSpec, KeySpec, TableSpec
from fiscal_core.storage.tables import bind_tables, physical_table_name, table_specs

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


def _key_schema(hash_key: KeySpec, range_key: KeySpec | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def _projection(index: IndexSpec) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return projection


def create_table(client: Any, spec: TableSpec) -> None:
    """CreateTable as the infra would: from the spec alone, on demand, TTL on if declared."""
    keys = [spec.hash_key, spec.range_key]
    for index in spec.indexes:
        keys += [index.hash_key, index.range_key]
    definitions = {k.name: k.type for k in keys if k is not None}
    name = physical_table_name(PREFIX, spec.logical_name)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in sorted(definitions.items())
        ],
        "KeySchema": _key_schema(spec.hash_key, spec.range_key),
    }
    gsis = [
        {
            "IndexName": i.name,
            "KeySchema": _key_schema(i.hash_key, i.range_key),
            "Projection": _projection(i),
        }
        for i in spec.indexes
        if not i.local
    ]
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    client.create_table(**kwargs)
    if spec.ttl_attribute:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )


@pytest.fixture(scope="module")
def created_tables(aws: None) -> Any:
    """Every table created once per module, models bound; tests that only read share it."""
    client = boto3.client("dynamodb", region_name=REGION)
    for spec in table_specs():
        create_table(client, spec)
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
