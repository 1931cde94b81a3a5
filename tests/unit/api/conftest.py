"""API unit tests: the resolver called in-process, over moto's in-process DynamoDB and KMS.

The user pool is a :class:`FakeDirectory`; everything else is the real adapter against moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from moto import mock_aws

from fiscal_core.api.services import Services, get_services
from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.storage.tables import bind_tables, physical_table_name, table_specs
from functions.api.handler import app
from local.resources import create_tables
from tests.unit.api.fakes import FakeDirectory, http_event

PREFIX = "apiunit"
REGION = "sa-east-1"


@dataclass
class Reply:
    """A decoded handler response."""

    status: int
    headers: dict[str, str]
    body: Any


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    """moto for the module, the tables created and bound, and a KMS key id."""
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
            client = boto3.client("dynamodb", region_name=REGION)
            create_tables(client, PREFIX)
            bind_tables(PREFIX, region=REGION)
            yield boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture
def services(aws: str, directory: FakeDirectory) -> Iterator[Services]:
    """Empty tables, fresh services, and the resolver using them."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for spec in table_specs():
        name = physical_table_name(PREFIX, spec.logical_name)
        keys = [k.name for k in (spec.hash_key, spec.range_key) if k is not None]
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=name, Key={k: item[k] for k in keys})
    kms = boto3.client("kms", region_name=REGION)
    built = Services(directory=lambda: directory, cipher=lambda: EnvelopeCipher(kms, aws))
    app.dependency_overrides[get_services] = lambda: built
    yield built
    app.dependency_overrides.clear()


@pytest.fixture
def call(services: Services) -> Callable[..., Reply]:
    """Call the API: ``call("GET", "/me", sub="u1")``."""

    def _call(method: str, path: str, **kwargs: Any) -> Reply:
        response = app.resolve(http_event(method, path, **kwargs), cast(LambdaContext, _Context()))
        body = response.get("body")
        decoded = (
            json.loads(body)
            if body and response["headers"].get("Content-Type", "").endswith("json")
            else body
        )
        return Reply(response["statusCode"], response["headers"], decoded)

    return _call


class _Context:
    function_name = "api"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:sa-east-1:123456789012:function:api"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
