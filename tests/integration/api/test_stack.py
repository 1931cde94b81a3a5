"""What the synthesized template promises the API: its routes' authorization and its role's reach."""

from __future__ import annotations

from typing import Any

import pytest

from fiscal_core.api.services import ENV_USER_POOL_ID
from infra.constructs.api import COGNITO_ACTIONS, TABLE_ACCESS
from infra.constructs.identity import ACCESS_TOKEN_SCOPE

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _api_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    functions = _of_type(template, "AWS::Lambda::Function")
    (found,) = [
        (k, v)
        for k, v in functions.items()
        if v["Properties"]["Handler"] == "functions.api.handler.lambda_handler"
    ]
    return found


def test_only_health_and_the_contract_are_public(template: dict[str, Any]) -> None:
    (http_api,) = [
        name
        for name, api in _of_type(template, "AWS::ApiGatewayV2::Api").items()
        if api["Properties"]["ProtocolType"] == "HTTP"
    ]
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in _of_type(template, "AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": http_api}
    }
    assert set(routes) == {"ANY /{proxy+}", "GET /health", "GET /openapi.json", "GET /docs"}
    assert routes["ANY /{proxy+}"]["AuthorizationType"] == "JWT"
    assert routes["ANY /{proxy+}"]["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE]
    for key in ("GET /health", "GET /openapi.json", "GET /docs"):
        assert routes[key]["AuthorizationType"] == "NONE"
        assert not routes[key].get("AuthorizationScopes")


def test_the_function_knows_its_user_pool(template: dict[str, Any]) -> None:
    _, function = _api_function(template)
    (pool,) = _of_type(template, "AWS::Cognito::UserPool")
    assert function["Properties"]["Environment"]["Variables"][ENV_USER_POOL_ID] == {"Ref": pool}


def test_the_role_reaches_only_what_the_routes_use(template: dict[str, Any]) -> None:
    _, function = _api_function(template)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    tables: dict[str, set[str]] = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith("*") for a in actions), statement
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if actions[0].startswith("dynamodb:"):
            # The ARNs ApiConstruct names (other constructs may grant the function their own tables).
            named = (r["Fn::Join"][1][-1] for r in resources if "Fn::Join" in r)
            for arn_tail in (t for t in named if isinstance(t, str) and t.startswith(":table/")):
                name = arn_tail.split("/")[1].removeprefix("fiscalmix-apitest-")
                tables.setdefault(name, set()).update(actions)
        if actions[0].startswith("cognito-idp:"):
            assert set(actions) == set(COGNITO_ACTIONS)
            (pool,) = _of_type(template, "AWS::Cognito::UserPool")
            assert resources == [{"Fn::GetAtt": [pool, "Arn"]}]
    assert tables == {name: set(actions) for name, actions in TABLE_ACCESS.items()}
    assert tables["AuditLogs"] == {"dynamodb:PutItem", "dynamodb:Query"}  # append-only
