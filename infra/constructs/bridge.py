"""BridgeConstruct: the agents' WebSocket API, its route function and the dispatch task.

A3 agents hold one WebSocket each to this API (route selection ``$request.body.action``); every
route goes to the ``ws_bridge`` function, which authenticates ``$connect`` itself (an agent
credential, compared by hash) since API Gateway's WebSocket authorizers cannot read it from a
table. The sync workflow invokes :attr:`BridgeConstruct.dispatch` with ``.waitForTaskToken``;
the answer completes the token from the route function. Each role gets its tables and indexes by
name, the agents' folder of the documents bucket, and ``ManageConnections`` on this API's stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from fiscal_core.bridge.settings import ENV_MANAGEMENT_URL
from infra.constructs.access_logs import AccessLogSettings
from infra.constructs.data import DataConstruct
from infra.constructs.function import FiscalFunction
from infra.constructs.grants import TableGrant, acknowledge_objects, grant_tables
from infra.stage import Stage

STAGE_NAME: Final = "agents"
ROUTE_SELECTION: Final = "$request.body.action"
MESSAGE_ROUTES: Final = ("hello", "heartbeat", "response")
# Below API Gateway's 29-second integration timeout; a route does a few reads and writes.
ROUTE_TIMEOUT: Final = Duration.seconds(20)
DISPATCH_TIMEOUT: Final = Duration.seconds(30)
# Agents beat every 4 minutes; even thousands of them stay far below these.
THROTTLE: Final = apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100)
# The agents' folder: {account}/{company}/agent/{request}/ (fiscal_core.bridge.calls).
AGENT_OBJECTS: Final = "*/agent/*"
TASK_RESPONSE_ACTIONS: Final = (
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
)

_GET, _PUT, _UPDATE, _DELETE = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
_QUERY, _BATCH_GET = "dynamodb:Query", "dynamodb:BatchGetItem"
# (table, index or None, actions): the routes bind connections, record hellos and answers,
# record A3 certificates and point their company at the one in use.
ROUTE_TABLE_GRANTS: Final[tuple[TableGrant, ...]] = (
    ("Agents", None, (_GET, _UPDATE)),
    ("Agents", "by_credential", (_QUERY,)),
    ("AgentConnections", None, (_GET, _PUT, _UPDATE, _DELETE, _QUERY)),
    ("AgentConnections", "by_connection_id", (_QUERY,)),
    ("AgentRequests", None, (_GET, _UPDATE)),
    ("AgentRequests", "waiting", (_QUERY,)),
    ("PairingCodes", None, (_GET, _PUT, _UPDATE)),
    ("Certificates", None, (_GET, _PUT, _UPDATE)),
    ("Certificates", "by_company", (_QUERY,)),
    ("Companies", None, (_GET, _BATCH_GET, _UPDATE)),
)
DISPATCH_TABLE_GRANTS: Final[tuple[TableGrant, ...]] = (
    ("Agents", None, (_GET,)),
    ("AgentConnections", None, (_QUERY, _DELETE)),
    ("AgentConnections", "by_connection_id", (_QUERY,)),
    ("AgentRequests", None, (_GET, _UPDATE)),
)
# The API pairs (claims a code, creates the agent), lists and revokes agents.
API_TABLE_GRANTS: Final[tuple[TableGrant, ...]] = (
    ("Agents", None, (_GET, _PUT, _UPDATE, _QUERY)),
    ("AgentConnections", None, (_GET, _DELETE, _QUERY)),
    ("AgentConnections", "by_connection_id", (_QUERY,)),
    ("PairingCodes", None, (_GET, _UPDATE)),
)

ACCESS_LOG_FIELDS: Final = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "integrationError": "$context.integrationErrorMessage",
}


class BridgeConstruct(Construct):
    """The WebSocket API and stage, the route function and :attr:`dispatch` (the workflow's task)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        data: DataConstruct,
    ) -> None:
        super().__init__(scope, construct_id)
        self._data = data
        self.routes = FiscalFunction(
            self, "Routes", name="ws_bridge", stage=stage, layer=layer, environment=environment,
            description="FiscalMix A3 bridge: the agents' WebSocket routes", timeout=ROUTE_TIMEOUT,
        )  # fmt: skip
        integration = integrations.WebSocketLambdaIntegration("Routes", self.routes.function)
        self.web_socket_api = apigwv2.WebSocketApi(
            self,
            "WebSocketApi",
            api_name=f"fiscalmix-{stage.name}-agents",
            description="FiscalMix A3 agents (agent/PROTOCOL.md)",
            route_selection_expression=ROUTE_SELECTION,
            connect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
            default_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
        )
        for route in MESSAGE_ROUTES:
            self.web_socket_api.add_route(route, integration=integration)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        self.stage = apigwv2.WebSocketStage(
            self, "Stage", web_socket_api=self.web_socket_api, stage_name=STAGE_NAME, auto_deploy=True,
            access_log_settings=AccessLogSettings(access_logs, ACCESS_LOG_FIELDS), throttle=THROTTLE,
        )  # fmt: skip
        self._acknowledge_routes()
        # The @connections endpoint of this API and stage: https://{api}.execute-api.{region}.../agents
        self.management_url = self.stage.callback_url
        self.routes.function.add_environment(ENV_MANAGEMENT_URL, self.management_url)
        self.dispatch = FiscalFunction(
            self, "Dispatch", name="ws_bridge", handler="dispatch.lambda_handler", stage=stage,
            layer=layer, environment={**environment, ENV_MANAGEMENT_URL: self.management_url},
            description="FiscalMix A3 bridge: sends the sync's requests to agents", timeout=DISPATCH_TIMEOUT,
        )  # fmt: skip
        self._grant(self.routes, ROUTE_TABLE_GRANTS, ("s3:GetObject", "s3:PutObject"))
        # PutObject: the upload links it signs are only as good as the signer's own rights.
        self._grant(self.dispatch, DISPATCH_TABLE_GRANTS, ("s3:GetObject", "s3:PutObject"))

    @property
    def url(self) -> str:
        """``wss://{api}.execute-api.{region}.amazonaws.com/agents``: what agents connect to."""
        return self.stage.url

    def connect_api(self, api: FiscalFunction) -> None:
        """Let the API function pair agents (post ``paired``), list them and cut revoked ones off."""
        api.function.add_environment(ENV_MANAGEMENT_URL, self.management_url)
        grant_tables(api.role, self._data, API_TABLE_GRANTS)
        self.stage.grant_management_api_access(api.role)
        self._acknowledge_connections(api.role)

    def grant_task_responses(self, state_machine_arn: str) -> None:
        """Let the answers complete the workflow's task tokens (and dispatch, for repeated requests).

        Takes the ARN built from the state machine's name: a Ref would make the workflow, which
        invokes the dispatch function, and the dispatch role's policy depend on each other.
        """
        statement = iam.PolicyStatement(actions=list(TASK_RESPONSE_ACTIONS), resources=[state_machine_arn])
        for function in (self.routes, self.dispatch):
            function.role.add_to_principal_policy(statement)

    def _grant(
        self,
        function: FiscalFunction,
        tables: Sequence[TableGrant],
        object_actions: Sequence[str],
    ) -> None:
        role, documents = function.role, self._data.documents_bucket
        grant_tables(role, self._data, tables)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(object_actions), resources=[documents.arn_for_objects(AGENT_OBJECTS)]
            )
        )
        # The documents bucket is SSE-KMS: reading a call, writing a reply, signing links to either.
        self._data.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        self.stage.grant_management_api_access(role)
        self._acknowledge_connections(role)
        acknowledge_objects(
            role,
            documents,
            AGENT_OBJECTS,
            "Agent calls and replies are keyed {account}/{company}/agent/{request}/, known only "
            "at run time; the grant is limited to that folder of every tenant and to two actions.",
        )

    def _acknowledge_connections(self, role: iam.IRole) -> None:
        stack = Stack.of(self)
        api_resource = self.web_socket_api.node.default_child
        assert api_resource is not None
        api_ref = stack.get_logical_id(api_resource)  # type: ignore[arg-type]
        account = "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>"
        resource = f"{account}:<{api_ref}>/{STAGE_NAME}/*/@connections/*"
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{resource}]",
                reason="Connection ids are made by API Gateway per connection; the grant covers this "
                "API's one stage and ManageConnections only.",
            )
        )

    def _acknowledge_routes(self) -> None:
        for child in self.web_socket_api.node.find_all():
            if isinstance(child, apigwv2.CfnRoute):
                Validations.of(child).acknowledge(
                    Acknowledgment(
                        id="AwsSolutions-APIG4",
                        reason="The route function authorizes $connect itself (an agent credential "
                        "compared by hash, or a pairing code) and ties every later message to the "
                        "connection it bound; API Gateway's authorizers cannot do that lookup.",
                    )
                )
