"""API Gateway WebSocket events and Lambda proxy results, shaped as AWS shapes them.

References: the mapping reference
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html),
Powertools' recorded events ``tests/events/apiGatewayWebSocketApi{Connect,Message,Disconnect}.json``
and its parser models (``APIGatewayWebSocket*EventModel``), which the unit tests validate against.
Besides the handshake's headers on $connect, AWS puts a few empty headers on $disconnect (see the
recorded event), and Powertools' disconnect model requires them, so they are reproduced here.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from local.ws_gateway.config import WsApiConfig
from local.ws_gateway.routing import CONNECT_ROUTE, DISCONNECT_ROUTE

Event = dict[str, Any]

# What AWS reports when the close frame carried no reason of its own. Only the 1005 text is
# taken from a recorded AWS event; the others are plain descriptions of the code.
_CLOSE_REASONS = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection closed abnormally",
    1009: "Message too big",
}
# The headers of the recorded AWS $disconnect event besides Host, all empty there as here.
_DISCONNECT_HEADERS = ("x-api-key", "X-Forwarded-For", "x-restapi")
_FORWARDED_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"})


def new_aws_id() -> str:
    """An id like API Gateway's connection and request ids: 11 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def now_ms() -> int:
    """The wall clock in epoch milliseconds, the unit of ``connectedAt`` and ``requestTimeEpoch``."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ConnectionInfo:
    """What API Gateway remembers about a connection and repeats in every event for it."""

    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str | None
    domain_name: str

    def identity(self) -> dict[str, str]:
        """``requestContext.identity``: the source IP, and the User-Agent when the client sent one."""
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity


def connect_event(
    config: WsApiConfig,
    info: ConnectionInfo,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
    local_port: int,
) -> Event:
    """The ``$connect`` event: the handshake's headers and query string, as sent by the client."""
    # API Gateway sets the X-Forwarded-* headers itself; a client cannot choose them.
    forwarded = [
        ("X-Forwarded-For", info.source_ip),
        ("X-Forwarded-Port", str(local_port)),
        ("X-Forwarded-Proto", "http"),
    ]
    sent = [(name, value) for name, value in headers if name.lower() not in _FORWARDED_HEADERS]
    single_headers, multi_headers = _single_and_multi([*sent, *forwarded])
    event: Event = {
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "requestContext": _request_context(config, info, CONNECT_ROUTE, "CONNECT"),
        "isBase64Encoded": False,
    }
    single_query, multi_query = _single_and_multi(query)
    if multi_query:
        event["queryStringParameters"] = single_query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(config: WsApiConfig, info: ConnectionInfo, route_key: str, message: str | bytes) -> Event:
    """A ``MESSAGE`` event for one data message; binary messages arrive base64-encoded."""
    context = _request_context(config, info, route_key, "MESSAGE")
    context["messageId"] = new_aws_id()
    if isinstance(message, bytes):
        encoded = base64.b64encode(message).decode()
        return {"requestContext": context, "body": encoded, "isBase64Encoded": True}
    return {"requestContext": context, "body": message, "isBase64Encoded": False}


def disconnect_event(config: WsApiConfig, info: ConnectionInfo, status_code: int, reason: str) -> Event:
    """The ``$disconnect`` event, with the close code and reason of whichever side closed."""
    context = _request_context(config, info, DISCONNECT_ROUTE, "DISCONNECT")
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason or _CLOSE_REASONS.get(status_code, "")
    headers = {"Host": info.domain_name, **dict.fromkeys(_DISCONNECT_HEADERS, "")}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def gateway_error_frame(message: str, connection_id: str, request_id: str) -> str:
    """The frame API Gateway itself sends a client, e.g. ``Forbidden`` when no route matches."""
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})


@dataclass(frozen=True)
class ProxyResponse:
    """A ``$connect`` handler's result read as a Lambda proxy response: status, headers, body."""

    status_code: int
    headers: Mapping[str, str]
    body: str

    @classmethod
    def parse(cls, result: object) -> ProxyResponse:
        """Read a handler's result; ValueError when API Gateway could not use it (it answers 502)."""
        if not isinstance(result, Mapping):
            raise ValueError(f"a Lambda proxy response must be an object, got {type(result).__name__}")
        status = result.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"statusCode must be an HTTP status code, got {status!r}")
        headers = result.get("headers") or {}
        body = result.get("body") or ""
        if not isinstance(headers, Mapping) or not isinstance(body, str):
            raise ValueError("headers must be an object and body a string")
        return cls(status, {str(name): str(value) for name, value in headers.items()}, body)

    @property
    def accepted(self) -> bool:
        """Whether API Gateway would complete the handshake: any 2xx status."""
        return 200 <= self.status_code < 300

    def header(self, name: str) -> str | None:
        """One response header, looked up case-insensitively as HTTP names are."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


def route_response_body(result: object) -> str | None:
    """What a two-way route sends back: the ``body`` string of the handler's result, if any."""
    body = result.get("body") if isinstance(result, Mapping) else None
    return body if isinstance(body, str) else None


def _request_context(config: WsApiConfig, info: ConnectionInfo, route_key: str, event_type: str) -> Event:
    request_id = new_aws_id()
    received_ms = now_ms()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(received_ms / 1000)),
        "messageDirection": "IN",
        "stage": config.stage,
        "connectedAt": info.connected_at_ms,
        "requestTimeEpoch": received_ms,
        "identity": info.identity(),
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": config.api_id,
    }


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """REST-style folding: the last value of each name, and every value in order."""
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi
