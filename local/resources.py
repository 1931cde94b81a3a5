"""The stage's resources, created through the AWS APIs from the definitions CDK deploys.

Tables come from ``table_specs()`` and ``physical_table_name``, names from
``fiscal_core.settings.ResourceNames``: the same sources as infra/constructs/data.py. Lifecycle
rules, access logging and point-in-time recovery are left out: moto stores them but does nothing
with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from fiscal_core.settings import ResourceNames
from fiscal_core.storage.schema import IndexSpec, KeySpec, TableSpec
from fiscal_core.storage.tables import physical_table_name, table_specs

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import ServerSideEncryptionRuleTypeDef


def _key_schema(hash_key: KeySpec, range_key: KeySpec | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def _index(index: IndexSpec) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.hash_key, index.range_key),
        "Projection": projection,
    }


def create_table_request(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """The ``CreateTable`` parameters of one spec: on-demand, with every index of the spec."""
    keys = [spec.hash_key, spec.range_key]
    keys += [key for index in spec.indexes for key in (index.hash_key, index.range_key)]
    definitions = {key.name: key.type for key in keys if key is not None}
    request: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()],
        "KeySchema": _key_schema(spec.hash_key, spec.range_key),
    }
    globals_ = [_index(index) for index in spec.indexes if not index.local]
    locals_ = [_index(index) for index in spec.indexes if index.local]
    if globals_:
        request["GlobalSecondaryIndexes"] = globals_
    if locals_:
        request["LocalSecondaryIndexes"] = locals_
    return request


def create_tables(dynamodb: DynamoDBClient, table_prefix: str) -> list[str]:
    """Create every table of ``table_specs()`` under ``table_prefix``; returns their names."""
    names = []
    for spec in table_specs():
        name = physical_table_name(table_prefix, spec.logical_name)
        dynamodb.create_table(**create_table_request(spec, name))
        if spec.ttl_attribute is not None:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        names.append(name)
    return names


def create_key(kms: KMSClient, alias: str) -> str:
    """Create the stage's rotating symmetric key under ``alias``; returns its ARN."""
    key = kms.create_key(Description=f"FiscalMix local key ({alias})")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key["Arn"]


def _create_bucket(s3: S3Client, name: str, region: str, encryption: ServerSideEncryptionRuleTypeDef) -> None:
    if region == "us-east-1":  # the one region S3 refuses as an explicit location constraint
        s3.create_bucket(Bucket=name)
    else:
        location = cast("BucketLocationConstraintType", region)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": location})
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [encryption]})


def create_buckets(s3: S3Client, names: ResourceNames, key_arn: str) -> None:
    """Create the access-logs, documents (versioned) and exports buckets, encrypted as in CDK."""
    kms_encryption: ServerSideEncryptionRuleTypeDef = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True,
    }
    _create_bucket(
        s3,
        names.access_logs_bucket,
        names.region,
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
    )
    _create_bucket(s3, names.documents_bucket, names.region, kms_encryption)
    s3.put_bucket_versioning(Bucket=names.documents_bucket, VersioningConfiguration={"Status": "Enabled"})
    _create_bucket(s3, names.exports_bucket, names.region, kms_encryption)
