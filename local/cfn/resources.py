"""One creator per CloudFormation resource type, each calling the AWS API moto serves.

A creator receives the resource's resolved properties and returns what Ref and Fn::GetAtt give
for it. Types that have no local effect (IAM, log groups, permissions, layers: moto does not
enforce IAM, and the code runs in-process) are recorded but create nothing; a type that is
neither created nor known to be inert raises, so a new construct cannot be silently dropped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.cfn.intrinsics import TemplateError


@dataclass
class Created:
    """What a created resource answers to Ref and to Fn::GetAtt."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DeployContext:
    """The AWS clients and naming facts the creators need."""

    clients: Callable[[str], Any]
    account: str
    region: str
    stack_name: str

    def arn(self, service: str, resource: str) -> str:
        """An ARN in the local account and region."""
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def default_name(self, logical_id: str, max_length: int = 64) -> str:
        """CloudFormation's generated name: stack, logical id and a random suffix."""
        return f"{self.stack_name}-{logical_id}-{uuid.uuid4().hex[:12]}"[:max_length]


Creator = Callable[[str, dict[str, Any], DeployContext], Created]


def _table(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    name = props.get("TableName") or ctx.default_name(logical_id)
    request = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if key in props:
            request[key] = props[key]
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    dynamodb = ctx.clients("dynamodb")
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return Created(
        name, {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn", "")}
    )


def _bucket(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    name = props.get("BucketName") or ctx.default_name(logical_id).lower()
    s3 = ctx.clients("s3")
    if ctx.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.region})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "BucketEncryption" in props:
        rules = [
            {**rule, "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        for rule in rules:
            del rule["ServerSideEncryptionByDefault"]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    # Lifecycle rules and access logging are left out: moto stores them but never applies them.
    return Created(
        name,
        {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        },
    )


def _bucket_policy(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    # Not applied: moto evaluates a bucket policy's Deny without its Condition, so the TLS-only
    # statement (aws:SecureTransport false) would refuse every call to the plain-HTTP local plane.
    return Created(logical_id)


def _key(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    kms = ctx.clients("kms")
    request: dict[str, Any] = {"Description": props.get("Description", logical_id)}
    if "KeyPolicy" in props:
        request["Policy"] = json.dumps(props["KeyPolicy"])
    for source, target in (("KeyUsage", "KeyUsage"), ("KeySpec", "KeySpec")):
        if source in props:
            request[target] = props[source]
    metadata = kms.create_key(**request)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return Created(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})


def _alias(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    target = props["TargetKeyId"].rsplit("/", 1)[-1]
    ctx.clients("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=target)
    return Created(props["AliasName"])


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    name = props.get("QueueName") or ctx.default_name(logical_id, 80)
    attributes = {key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
                  for key in _QUEUE_ATTRIBUTES if key in props}  # fmt: skip
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    sqs = ctx.clients("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


_USER_POOL_KEYS = (
    "Policies",
    "AutoVerifiedAttributes",
    "UsernameAttributes",
    "AliasAttributes",
    "MfaConfiguration",
    "Schema",
    "AdminCreateUserConfig",
    "AccountRecoverySetting",
    "UsernameConfiguration",
    "EnabledMfas",
)


def _user_pool(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    request = {key: props[key] for key in _USER_POOL_KEYS if key in props}
    # Only SOFTWARE_TOKEN_MFA is configured through set_user_pool_mfa_config, not create.
    request.pop("EnabledMfas", None)
    pool = ctx.clients("cognito-idp").create_user_pool(
        PoolName=props.get("UserPoolName") or ctx.default_name(logical_id, 128), **request
    )["UserPool"]
    provider = f"cognito-idp.{ctx.region}.amazonaws.com/{pool['Id']}"
    return Created(
        pool["Id"],
        {"Arn": pool["Arn"], "ProviderName": provider, "ProviderURL": f"https://{provider}"},
    )


_CLIENT_KEYS = (
    "ExplicitAuthFlows",
    "GenerateSecret",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "CallbackURLs",
    "LogoutURLs",
    "SupportedIdentityProviders",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "ReadAttributes",
    "WriteAttributes",
)


def _user_pool_client(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    request = {key: props[key] for key in _CLIENT_KEYS if key in props}
    client = ctx.clients("cognito-idp").create_user_pool_client(
        UserPoolId=props["UserPoolId"], ClientName=props.get("ClientName", logical_id), **request
    )["UserPoolClient"]
    return Created(client["ClientId"], {"ClientSecret": client.get("ClientSecret", "")})


def _resource_server(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    ctx.clients("cognito-idp").create_resource_server(
        UserPoolId=props["UserPoolId"],
        Identifier=props["Identifier"],
        Name=props["Name"],
        Scopes=props.get("Scopes", []),
    )
    return Created(props["Identifier"])


def _state_machine(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    definition = props.get("DefinitionString")
    if definition is None:
        definition = json.dumps(props["Definition"])
    for name, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    name = props.get("StateMachineName") or ctx.default_name(logical_id, 80)
    arn = ctx.clients("stepfunctions").create_state_machine(
        name=name,
        definition=definition,
        roleArn=props.get("RoleArn") or ctx.arn("iam", "role/local"),
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return Created(arn, {"Arn": arn, "Name": name})


def _recorded(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    return Created(logical_id, {"Arn": ctx.arn("local", logical_id)})


def _log_group(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    name = props.get("LogGroupName") or f"/local/{logical_id}"
    return Created(name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")})


def _role(logical_id: str, props: dict[str, Any], ctx: DeployContext) -> Created:
    name = props.get("RoleName") or ctx.default_name(logical_id)
    return Created(name, {"Arn": ctx.arn("iam", f"role/{name}").replace(f":{ctx.region}:", "::")})


CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::KMS::Key": _key,
    "AWS::KMS::Alias": _alias,
    "AWS::SQS::Queue": _queue,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
    "AWS::Cognito::UserPoolResourceServer": _resource_server,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::IAM::Role": _role,
    "AWS::Logs::LogGroup": _log_group,
    # Inert locally: IAM is not enforced by moto, code is imported from the work tree, and the
    # gateway and event-source resources are read by local/cfn/stack.py instead of created.
    **dict.fromkeys(
        (
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
            "AWS::Lambda::Permission",
            "AWS::Lambda::LayerVersion",
            "AWS::SQS::QueuePolicy",
            "AWS::Cognito::UserPoolDomain",
            "AWS::CDK::Metadata",
            "AWS::CloudWatch::Alarm",
            "AWS::SNS::Topic",
        ),
        _recorded,
    ),
}


def creator_for(resource_type: str) -> Creator:
    """The creator of ``resource_type``; raises TemplateError for an unknown type."""
    try:
        return CREATORS[resource_type]
    except KeyError:
        raise TemplateError(f"{resource_type} is not supported by the local deployer") from None
