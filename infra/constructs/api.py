"""ApiConstruct: the HTTP API, its Cognito JWT authorizer and the function behind it.

Every route needs an access token of the user pool (``GET /health`` excepted); the resource
routes arrive as Routers of the API function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import jsii
from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.function import FiscalFunction
from infra.constructs.identity import ACCESS_TOKEN_SCOPE, IdentityConstruct
from infra.stage import Stage

# One JSON line per request, with the ids that tie it to the function's log and trace.
_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(_ACCESS_LOG_FORMAT)


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
            environment=environment,
        )
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
            access_log_settings=_AccessLogSettings(access_logs),
            throttle=apigwv2.ThrottleSettings(rate_limit=100, burst_limit=200),
        )
        integration = integrations.HttpLambdaIntegration("Handler", self.handler.function)
        health = self.http_api.add_routes(
            path="/health",
            methods=[apigwv2.HttpMethod.GET],
            integration=integration,
            authorizer=apigwv2.HttpNoneAuthorizer(),
        )
        self.http_api.add_routes(path="/me", methods=[apigwv2.HttpMethod.GET], integration=integration)
        for route in health:
            Validations.of(route).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG4",
                    reason="The health check is public on purpose: load balancers and uptime "
                    "monitors call it without a token, and it reads no data.",
                )
            )
