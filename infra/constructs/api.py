"""ApiConstruct: the HTTP API, its Cognito JWT authorizer and the function behind it.

One ``ANY /{proxy+}`` route sends everything to the API function behind the authorizer (an
access token of the user pool); the function's resolver owns the routing, so a new Router needs
no change here. ``GET /health``, ``/openapi.json`` and ``/docs`` are public. The function's role
gets exactly the tables, indexes, bucket, key and Cognito actions the routes use; its
environment names the SEFAZ (and the CA bundle) the manifestação route sends events to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Acknowledgment, Aws, Stack, Token, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from fiscal_core.api.services import ENV_USER_POOL_ID
from fiscal_core.settings import ENV_DOCUMENTS_BUCKET, ENV_KMS_KEY_ID, ENV_TABLE_PREFIX
from fiscal_core.storage.tables import physical_table_name, table_specs
from infra.constructs.access_logs import AccessLogSettings
from infra.constructs.function import FiscalFunction
from infra.constructs.identity import ACCESS_TOKEN_SCOPE, IdentityConstruct
from infra.constructs.sefaz import sefaz_environment
from infra.stage import Stage

_READ: Final = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
_READ_WRITE: Final = (*_READ, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# The tables the routes use, and how: the audit log is append-only, the sync cursors read-only.
# Each grant covers the table and the indexes its model declares, named one by one.
TABLE_ACCESS: Final[Mapping[str, Sequence[str]]] = {
    "Accounts": _READ_WRITE,
    "Users": _READ_WRITE,
    "Companies": _READ_WRITE,
    "CompanyUserPermissions": _READ_WRITE,
    "Certificates": _READ_WRITE,
    "SyncCursors": _READ,
    "SyncRuns": _READ,
    "AuditLogs": ("dynamodb:PutItem", "dynamodb:Query"),
    # The documents routes: search, timeline, import, manifestação.
    "Documents": _READ_WRITE,
    "DocumentEvents": _READ_WRITE,
}
# Certificate envelopes (and the SSE-KMS documents bucket): a data key to seal, Decrypt to open.
KMS_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")
# The documents routes read XML (presigned links, DANFE) and write rendered PDFs and imports.
DOCUMENT_OBJECT_ACTIONS: Final = ("s3:GetObject", "s3:PutObject")
COGNITO_ACTIONS: Final = ("cognito-idp:AdminGetUser", "cognito-idp:AdminCreateUser")
# Routes that answer without a token: liveness, the OpenAPI document and its docs page.
PUBLIC_PATHS: Final = ("/health", "/openapi.json", "/docs")

# One JSON line per request, with the ids that tie it to the function's log and trace.
ACCESS_LOG_FIELDS: Final = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


class ApiConstruct(Construct):
    """The HTTP API (payload v2), its access-logged, throttled default stage, and the API function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        identity: IdentityConstruct,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = FiscalFunction(
            self,
            "Handler",
            name="api",
            description="FiscalMix HTTP API",
            stage=stage,
            layer=layer,
            environment={
                **environment,
                ENV_USER_POOL_ID: identity.user_pool.user_pool_id,
                # POST /documents/{id}/manifestacao sends the event to SEFAZ itself.
                **sefaz_environment(stage),
            },
        )
        self._grant_access(self.handler.role, environment, identity)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"fiscalmix-{stage.name}",
            create_default_stage=False,
            default_authorizer=authorizers.HttpUserPoolAuthorizer(
                "CognitoAuthorizer", identity.user_pool, user_pool_clients=[identity.client]
            ),
            default_authorization_scopes=[ACCESS_TOKEN_SCOPE],
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=AccessLogSettings(access_logs, ACCESS_LOG_FIELDS),
            throttle=apigwv2.ThrottleSettings(rate_limit=100, burst_limit=200),
        )
        integration = integrations.HttpLambdaIntegration("Handler", self.handler.function)
        self.http_api.add_routes(path="/{proxy+}", methods=[apigwv2.HttpMethod.ANY], integration=integration)
        for path in PUBLIC_PATHS:
            for route in self.http_api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod.GET],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
                authorization_scopes=[],  # the default scope belongs to the JWT authorizer only
            ):
                Validations.of(route).acknowledge(
                    Acknowledgment(
                        id="AwsSolutions-APIG4",
                        reason="Public on purpose: the health check serves uptime monitors and the "
                        "OpenAPI document and its docs page describe the API; none reads any data.",
                    )
                )

    def _grant_access(
        self, role: iam.IRole, environment: Mapping[str, str], identity: IdentityConstruct
    ) -> None:
        """Least privilege: the named tables and indexes, the key, the bucket's objects, two Cognito actions.

        The ARNs come from the same environment the function reads, so the grants name exactly
        the resources the function is pointed at.
        """
        stack = Stack.of(self)
        prefix = environment[ENV_TABLE_PREFIX]
        specs = {spec.logical_name: spec for spec in table_specs()}
        for logical_name, actions in TABLE_ACCESS.items():
            table = physical_table_name(prefix, logical_name)
            resources = [stack.format_arn(service="dynamodb", resource="table", resource_name=table)]
            resources += [
                stack.format_arn(
                    service="dynamodb", resource="table", resource_name=f"{table}/index/{i.name}"
                )
                for i in specs[logical_name].indexes
            ]
            role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=resources))
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(KMS_ACTIONS), resources=[environment[ENV_KMS_KEY_ID]])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(COGNITO_ACTIONS), resources=[identity.user_pool.user_pool_arn])
        )
        bucket = environment[ENV_DOCUMENTS_BUCKET]
        objects = f"arn:{Aws.PARTITION}:s3:::{bucket}/*"
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(DOCUMENT_OBJECT_ACTIONS), resources=[objects])
        )
        # cdk-nag names the finding after the bucket's logical id, as the template refers to it.
        bucket_ref = stack.resolve(bucket).get("Ref", bucket) if Token.is_unresolved(bucket) else bucket
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{bucket_ref}>/*]",
                reason="Fiscal XML objects are keyed by account, company, type and date, and the "
                "tenant is checked by the API on every read; an object-level wildcard is required.",
            )
        )
