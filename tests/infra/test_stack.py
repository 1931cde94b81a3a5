"""The dev stage's template: tables as the models define them, and the security-relevant settings."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from fiscal_core.settings import (
    ENV_DOCUMENTS_BUCKET,
    ENV_EXPORTS_BUCKET,
    ENV_KMS_KEY_ID,
    ENV_STAGE,
    ENV_TABLE_PREFIX,
    METRICS_NAMESPACE,
)
from fiscal_core.storage.schema import IndexSpec, KeySpec, TableSpec
from fiscal_core.storage.tables import physical_table_name, table_specs
from infra.bundling import PLATFORM
from infra.stack import FiscalMixStack

pytestmark = pytest.mark.slow

FIVE_YEARS_IN_DAYS = 5 * 365 + 1


@pytest.fixture(scope="module")
def template(dev_stack: tuple[FiscalMixStack, Template]) -> Template:
    return dev_stack[1]


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, Any]:
    resources: dict[str, Any] = template.to_json()["Resources"]
    return resources


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _key_spec(key_schema: list[dict[str, str]], types: dict[str, Any], kind: str) -> KeySpec | None:
    names = [k["AttributeName"] for k in key_schema if k["KeyType"] == kind]
    return KeySpec(names[0], types[names[0]]) if names else None


def _spec_from_template(logical_name: str, props: dict[str, Any]) -> TableSpec:
    """Read a CloudFormation table back into the spec it was built from."""
    types = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    hash_key = _key_spec(props["KeySchema"], types, "HASH")
    assert hash_key is not None
    indexes = []
    for kind, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
        for index in props.get(kind, []):
            index_hash = _key_spec(index["KeySchema"], types, "HASH")
            assert index_hash is not None
            indexes.append(
                IndexSpec(
                    name=index["IndexName"],
                    hash_key=index_hash,
                    range_key=_key_spec(index["KeySchema"], types, "RANGE"),
                    projection=index["Projection"]["ProjectionType"],
                    non_key_attributes=tuple(index["Projection"].get("NonKeyAttributes", ())),
                    local=local,
                )
            )
    ttl = props.get("TimeToLiveSpecification")
    return TableSpec(
        logical_name=logical_name,
        hash_key=hash_key,
        range_key=_key_spec(props["KeySchema"], types, "RANGE"),
        indexes=tuple(sorted(indexes, key=lambda i: i.name)),
        ttl_attribute=ttl["AttributeName"] if ttl and ttl["Enabled"] else None,
    )


def test_tables_are_exactly_the_model_specs(resources: dict[str, Any]) -> None:
    specs = {physical_table_name("fiscalmix-dev", s.logical_name): s for s in table_specs()}
    tables = {
        t["Properties"]["TableName"]: t["Properties"]
        for t in _of_type(resources, "AWS::DynamoDB::Table").values()
    }

    assert set(tables) == set(specs)
    for name, spec in specs.items():
        assert _spec_from_template(spec.logical_name, tables[name]) == spec, name


def test_every_attribute_definition_is_a_key(resources: dict[str, Any]) -> None:
    # CloudFormation rejects attribute definitions that no key or index uses.
    for name, table in _of_type(resources, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        schemas = [props["KeySchema"]] + [
            i["KeySchema"]
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
            for i in props.get(kind, [])
        ]
        used = {k["AttributeName"] for schema in schemas for k in schema}
        assert {d["AttributeName"] for d in props["AttributeDefinitions"]} == used, name


def test_tables_are_on_demand_recoverable_and_encrypted(resources: dict[str, Any]) -> None:
    for name, table in _of_type(resources, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["DeletionProtectionEnabled"] is False, name  # dev; prod is tested apart


def test_key_rotates_and_has_the_stage_alias(template: Template) -> None:
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/fiscalmix-dev"})


def _bucket(resources: dict[str, Any], purpose: str) -> tuple[str, dict[str, Any]]:
    for name, bucket in _of_type(resources, "AWS::S3::Bucket").items():
        join = bucket["Properties"]["BucketName"]["Fn::Join"][1]
        if join[0] == f"fiscalmix-dev-{purpose}-":
            return name, bucket["Properties"]
    raise AssertionError(f"no {purpose} bucket")


@pytest.mark.parametrize("purpose", ["documents", "exports", "access-logs"])
def test_buckets_are_private_and_tls_only(resources: dict[str, Any], purpose: str) -> None:
    name, props = _bucket(resources, purpose)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in _of_type(resources, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": name}
    ]
    denials = {
        json.dumps(s["Condition"], sort_keys=True) for s in policy["Statement"] if s["Effect"] == "Deny"
    }
    assert denials == {
        '{"Bool": {"aws:SecureTransport": "false"}}',
        '{"NumericLessThan": {"s3:TlsVersion": 1.2}}',
    }
    assert all(
        s["Action"] == "s3:*" and s["Principal"] == {"AWS": "*"}
        for s in policy["Statement"]
        if s["Effect"] == "Deny"
    )


@pytest.mark.parametrize("purpose", ["documents", "exports"])
def test_data_buckets_use_the_stage_key_and_log_access(resources: dict[str, Any], purpose: str) -> None:
    _, props = _bucket(resources, purpose)
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (key,) = _of_type(resources, "AWS::KMS::Key")
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    logs_bucket, _ = _bucket(resources, "access-logs")
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_bucket},
        "LogFilePrefix": f"{purpose}/",
    }


def test_documents_bucket_is_versioned_and_keeps_versions_five_years(resources: dict[str, Any]) -> None:
    _, props = _bucket(resources, "documents")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert all(r["Status"] == "Enabled" for r in rules)
    assert any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation", 99) <= 7 for r in rules)
    assert not any("ExpirationInDays" in r for r in rules), "current documents must never expire"
    (noncurrent,) = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] >= FIVE_YEARS_IN_DAYS
    transitions = [
        t for r in rules for t in r.get("Transitions", []) + r.get("NoncurrentVersionTransitions", [])
    ]
    assert transitions
    assert all(t["StorageClass"] == "GLACIER_IR" and t["TransitionInDays"] >= 30 for t in transitions)


def test_exports_expire(resources: dict[str, Any]) -> None:
    _, props = _bucket(resources, "exports")
    rules = props["LifecycleConfiguration"]["Rules"]
    assert [r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r] == [7]
    assert all(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1 for r in rules)


def test_functions_follow_the_conventions(resources: dict[str, Any]) -> None:
    functions = _of_type(resources, "AWS::Lambda::Function")
    (layer,) = _of_type(resources, "AWS::Lambda::LayerVersion")
    log_groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert functions
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Runtime"] == PLATFORM.runtime.name == f"python{PLATFORM.python_version}"
        assert props["Architectures"] == [PLATFORM.architecture.name]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"] == [{"Ref": layer}]
        # functions/<function folder>/<module>.lambda_handler: the same path locally and in Lambda.
        assert props["Handler"].startswith("functions.") and props["Handler"].endswith(".lambda_handler")
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"], name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert env["LOG_LEVEL"] == "INFO"
        assert env[ENV_STAGE] == "dev"
        assert env[ENV_TABLE_PREFIX] == "fiscalmix-dev"
        assert {ENV_DOCUMENTS_BUCKET, ENV_EXPORTS_BUCKET, ENV_KMS_KEY_ID} <= env.keys()
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group]["Properties"]["RetentionInDays"] == 30
    # HTTP integrations name the function's ARN; WebSocket ones an invocation URI joined around it.
    behind_the_api = {
        name
        for integration in _of_type(resources, "AWS::ApiGatewayV2::Integration").values()
        for name in functions
        if f'{{"Fn::GetAtt": ["{name}", "Arn"]}}' in json.dumps(integration["Properties"]["IntegrationUri"])
    }
    assert behind_the_api
    for name in behind_the_api:
        timeout = functions[name]["Properties"]["Timeout"]
        assert timeout <= 29, f"{name}: an API Gateway integration times out at 29 s"


def test_each_function_has_its_own_least_privilege_role(resources: dict[str, Any]) -> None:
    functions = _of_type(resources, "AWS::Lambda::Function")
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(functions)
    for role in roles:
        props = resources[role]["Properties"]
        assert "ManagedPolicyArns" not in props, "no broad AWS-managed policies"
        assert props["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
        policies = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in _of_type(resources, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
        ]
        for statement in (s for statements in policies for s in statements):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a.endswith("*") for a in actions), statement
            if statement["Resource"] == "*":
                assert set(actions) == {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}


def test_health_route_is_public_and_the_stage_logs_and_throttles(template: Template) -> None:
    template.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "GET /health", "AuthorizationType": "NONE"}
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"},
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AccessLogSettings": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp("requestId"),
            },
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": Match.any_value(),
                "ThrottlingRateLimit": Match.any_value(),
            },
        },
    )


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_every_handler_in_the_template_imports_and_the_health_route_answers(
    resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    handlers = {}
    for function in _of_type(resources, "AWS::Lambda::Function").values():
        module, attribute = function["Properties"]["Handler"].rsplit(".", 1)
        handlers[module] = getattr(importlib.import_module(module), attribute)

    response = handlers["functions.api.handler"](_http_event("GET", "/health"), _LambdaContext())

    assert response["statusCode"] == 200
    assert response["body"] == '{"status":"ok"}'


class _LambdaContext:
    function_name = "api"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:sa-east-1:123456789012:function:api"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"


def _http_event(method: str, path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "t",
            },
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": False,
    }
