"""The A3 bridge's CDK: the WebSocket API and its stage, and what each role may do (nothing more)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.bridge import AGENT_OBJECTS, MESSAGE_ROUTES, ROUTE_SELECTION, STAGE_NAME
from infra.stack import FiscalMixStack

pytestmark = pytest.mark.slow


def _of_type(template: Template, kind: str) -> dict[str, Any]:
    resources: dict[str, Any] = template.to_json()["Resources"]
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    policies = _of_type(template, "AWS::IAM::Policy")
    return [
        statement
        for policy in policies.values()
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_the_websocket_api_routes_on_the_action(dev_stack: tuple[FiscalMixStack, Template]) -> None:
    _, template = dev_stack
    (api,) = (
        _of_type(template, "AWS::ApiGatewayV2::Api").values() - []
        if False
        else [
            a
            for a in _of_type(template, "AWS::ApiGatewayV2::Api").values()
            if a["Properties"]["ProtocolType"] == "WEBSOCKET"
        ]
    )
    assert api["Properties"]["RouteSelectionExpression"] == ROUTE_SELECTION
    keys = {r["Properties"]["RouteKey"] for r in _of_type(template, "AWS::ApiGatewayV2::Route").values()}
    assert {"$connect", "$disconnect", "$default", *MESSAGE_ROUTES} <= keys
    (stage,) = [
        s
        for s in _of_type(template, "AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["StageName"] == STAGE_NAME
    ]
    props = stage["Properties"]
    assert props["AccessLogSettings"]["DestinationArn"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    outputs = template.to_json()["Outputs"]
    assert "AgentBridgeUrl" in outputs


def test_the_bridge_functions_follow_the_conventions(dev_stack: tuple[FiscalMixStack, Template]) -> None:
    stack, template = dev_stack
    functions = _of_type(template, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert {
        "functions.ws_bridge.handler.lambda_handler",
        "functions.ws_bridge.dispatch.lambda_handler",
    } <= handlers
    assert stack.bridge.dispatch.function.node.default_child is not None
    for function in functions.values():
        env = function["Properties"]["Environment"]["Variables"]
        if function["Properties"]["Handler"].startswith(("functions.ws_bridge", "functions.api")):
            assert "FISCALMIX_BRIDGE_MANAGEMENT_URL" in env


@pytest.mark.parametrize("role", ["BridgeRoutesRole", "BridgeDispatchRole", "ApiHandlerRole"])
def test_each_role_manages_only_this_stages_connections(
    dev_stack: tuple[FiscalMixStack, Template], role: str
) -> None:
    _, template = dev_stack
    manage = [s for s in _statements(template, role) if "execute-api:ManageConnections" in _actions(s)]
    assert manage
    for statement in manage:
        assert _actions(statement) == ["execute-api:ManageConnections"]
        text = json.dumps(statement["Resource"])
        assert f"/{STAGE_NAME}/" in text and "@connections" in text and "BridgeWebSocketApi" in text


@pytest.mark.parametrize("role", ["BridgeRoutesRole", "BridgeDispatchRole"])
def test_the_bridge_roles_are_least_privilege(dev_stack: tuple[FiscalMixStack, Template], role: str) -> None:
    _, template = dev_stack
    statements = _statements(template, role)
    for statement in statements:
        text = json.dumps(statement["Resource"])
        assert "index/*" not in text
        if any(a.startswith("s3:") for a in _actions(statement)):
            assert set(_actions(statement)) <= {"s3:GetObject", "s3:PutObject"}
            assert AGENT_OBJECTS in text
        assert not any(a.endswith("*") for a in _actions(statement)), statement
    responses = [s for s in statements if "states:SendTaskSuccess" in _actions(s)]
    (response,) = responses
    assert ":stateMachine:fiscalmix-dev-sync" in json.dumps(response["Resource"])
    assert not any("dynamodb:Scan" in _actions(s) for s in statements)
