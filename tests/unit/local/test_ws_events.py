"""The local WebSocket gateway builds the events API Gateway builds and routes messages as it does.

Powertools' parser models for WebSocket events are the outside reference: a handler that parses
its event with them locally must not fail, and neither must one in AWS.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)

from local.ws_gateway import WsApiConfig, WsRoute
from local.ws_gateway.events import (
    ConnectionInfo,
    ProxyResponse,
    connect_event,
    disconnect_event,
    gateway_error_frame,
    message_event,
    new_aws_id,
    route_response_body,
)


def _handler(event: dict[str, Any], context: Any) -> None:
    return None


def _config(*route_keys: str, expression: str = "$request.body.action") -> WsApiConfig:
    routes = [WsRoute(key, _handler, f"fn-{key}") for key in route_keys]
    return WsApiConfig(route_selection_expression=expression, routes=routes)


CONFIG = _config()
INFO = ConnectionInfo(
    connection_id="L0SM9cOFvHcCIhw=",
    connected_at_ms=1_731_324_924_553,
    source_ip="127.0.0.1",
    user_agent="fiscalmix-agent/1.0",
    domain_name="127.0.0.1:8765",
)


def test_ids_look_like_api_gateway_ids() -> None:
    ids = {new_aws_id() for _ in range(50)}
    assert len(ids) == 50
    for value in ids:
        assert len(value) == 16
        assert value.endswith("=")
        assert len(base64.urlsafe_b64decode(value)) == 11


def test_connect_event_carries_headers_and_query_string() -> None:
    headers = [("Host", "127.0.0.1:8765"), ("X-Tenant", "t1"), ("Accept", "a"), ("Accept", "b")]
    query = [("agent", "a-7"), ("tag", "x"), ("tag", "y")]

    event = connect_event(CONFIG, INFO, headers, query, local_port=8765)

    APIGatewayWebSocketConnectEventModel.model_validate(event)
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["messageDirection"]) == (
        "$connect",
        "CONNECT",
        "IN",
    )
    assert context["connectionId"] == INFO.connection_id
    assert context["connectedAt"] == INFO.connected_at_ms
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "fiscalmix-agent/1.0"}
    assert (context["stage"], context["apiId"], context["domainName"]) == (
        "prod",
        CONFIG.api_id,
        INFO.domain_name,
    )
    assert context["requestId"] == context["extendedRequestId"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert "messageId" not in context
    assert event["headers"]["X-Tenant"] == "t1"
    assert event["headers"]["Accept"] == "b"
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["queryStringParameters"] == {"agent": "a-7", "tag": "y"}
    assert event["multiValueQueryStringParameters"] == {"agent": ["a-7"], "tag": ["x", "y"]}
    assert "body" not in event


def test_connect_event_without_query_string_leaves_the_query_keys_out() -> None:
    event = connect_event(CONFIG, INFO, [("Host", "h")], [], local_port=1)

    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event


def test_client_cannot_forge_forwarded_headers() -> None:
    event = connect_event(CONFIG, INFO, [("X-Forwarded-For", "10.9.9.9")], [], local_port=1)

    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["127.0.0.1"]


def test_message_event_for_text() -> None:
    body = json.dumps({"action": "sync", "nsu": "000000000000123"})

    event = message_event(CONFIG, INFO, "sync", body)

    APIGatewayWebSocketMessageEventModel.model_validate(event)
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("sync", "MESSAGE")
    assert len(context["messageId"]) == 16
    assert event["body"] == body
    assert event["isBase64Encoded"] is False
    assert "headers" not in event
    assert "queryStringParameters" not in event


def test_message_event_for_binary_is_base64() -> None:
    event = message_event(CONFIG, INFO, "$default", b"\x00\xff")

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"


def test_disconnect_event_carries_close_status() -> None:
    event = disconnect_event(CONFIG, INFO, 1001, "")

    APIGatewayWebSocketDisconnectEventModel.model_validate(event)
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$disconnect", "DISCONNECT")
    assert context["disconnectStatusCode"] == 1001
    assert context["disconnectReason"] == "Going away"
    assert "queryStringParameters" not in event
    assert "body" not in event


def test_disconnect_event_keeps_the_clients_reason() -> None:
    event = disconnect_event(CONFIG, INFO, 4000, "agent shutting down")

    assert event["requestContext"]["disconnectReason"] == "agent shutting down"


def test_user_agent_is_optional_in_identity() -> None:
    info = ConnectionInfo("id", 0, "127.0.0.1", None, "h")

    assert message_event(CONFIG, info, "x", "{}")["requestContext"]["identity"] == {"sourceIp": "127.0.0.1"}


def test_gateway_error_frame_is_api_gateways() -> None:
    assert json.loads(gateway_error_frame("Forbidden", "c=", "r=")) == {
        "message": "Forbidden",
        "connectionId": "c=",
        "requestId": "r=",
    }


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('{"action": "sync"}', "sync"),
        ('{"action": "export", "x": 1}', "export"),
        ('{"action": "unknown"}', "$default"),
        ('{"other": "sync"}', "$default"),
        ('{"action": 3}', "$default"),
        ("not json", "$default"),
        ('["sync"]', "$default"),
        (b'{"action": "sync"}', "$default"),
        ('{"action": "$connect"}', "$default"),
        ('{"action": "$disconnect"}', "$default"),
        ('{"action": "SYNC"}', "$default"),
    ],
)
def test_route_selection(message: str | bytes, expected: str) -> None:
    route = _config("sync", "export", "$default", "$connect", "$disconnect").select_route(message)

    assert route is not None
    assert route.route_key == expected


@pytest.mark.parametrize("expression", ["$request.body.request.kind", "${request.body.request.kind}"])
def test_route_selection_on_a_nested_field(expression: str) -> None:
    config = _config("sync", expression=expression)

    route = config.select_route('{"request": {"kind": "sync"}}')

    assert route is not None
    assert route.route_key == "sync"
    assert config.select_route('{"request": "sync"}') is None


def test_no_route_without_default() -> None:
    config = _config("sync")

    assert config.select_route('{"action": "export"}') is None
    assert config.select_route("not json") is None


@pytest.mark.parametrize(
    "expression",
    [
        "$request.header.action",
        "request.body.action",
        "$request.body.",
        "${request.body.action",
        "$request.body",
    ],
)
def test_unsupported_selection_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="route selection expression"):
        _config(expression=expression)


def test_duplicate_route_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="more than once"):
        _config("sync", "sync")


def test_proxy_response_of_connect() -> None:
    response = ProxyResponse.parse(
        {"statusCode": 200, "headers": {"sec-websocket-protocol": "fiscalmix.v1"}, "body": ""}
    )

    assert response.accepted
    assert response.header("Sec-WebSocket-Protocol") == "fiscalmix.v1"
    assert not ProxyResponse.parse({"statusCode": 403, "body": "no"}).accepted
    assert ProxyResponse.parse({"statusCode": "401"}).status_code == 401


@pytest.mark.parametrize(
    "result", [None, "ok", {"body": "x"}, {"statusCode": True}, {"statusCode": 200, "body": 1}]
)
def test_malformed_proxy_responses_are_refused(result: object) -> None:
    with pytest.raises(ValueError):
        ProxyResponse.parse(result)


def test_route_response_body() -> None:
    assert route_response_body({"statusCode": 200, "body": "pong"}) == "pong"
    assert route_response_body({"statusCode": 200}) is None
    assert route_response_body(None) is None
