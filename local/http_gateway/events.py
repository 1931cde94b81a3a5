"""An HTTP request turned into the API Gateway HTTP API payload format 2.0 event.

The shape follows Powertools' canonical sample ``tests/events/apiGatewayProxyV2Event.json`` and
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html:
header names lowercased and duplicates comma-joined, cookies moved out of the headers into
``cookies``, query parameters decoded and comma-joined, and optional fields left out when empty,
as API Gateway leaves them out.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

LOCAL_ACCOUNT_ID = "123456789012"  # the account local.lambda_runtime puts in function ARNs
# Content types whose bodies API Gateway hands over as text; everything else, forms included,
# arrives base64-encoded with isBase64Encoded true.
_TEXT_SUBTYPES = frozenset({"json", "javascript", "xml"})


@dataclass(frozen=True)
class HttpRequest:
    """A request as it came off the wire: the raw target, headers in order, the body bytes."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    @property
    def raw_path(self) -> str:
        """The path exactly as sent, still percent-encoded."""
        return self.target.partition("?")[0] or "/"

    @property
    def raw_query_string(self) -> str:
        """Everything after the first ``?``, as sent."""
        return self.target.partition("?")[2]


def build_http_event(
    request: HttpRequest,
    *,
    route_key: str,
    path_parameters: Mapping[str, str],
    api_id: str,
    request_id: str,
    received_at: float | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event for ``request``, without ``requestContext.authorizer``.

    The authorizer adds that key only on routes that have one, as API Gateway does.
    """
    received_at = time.time() if received_at is None else received_at
    headers = _event_headers(request)
    host = headers.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query_string,
        "headers": headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(received_at)),
            "timeEpoch": int(received_at * 1000),
        },
        "isBase64Encoded": False,
    }
    cookies = _cookies(request)
    if cookies:
        event["cookies"] = cookies
    query = _query_parameters(request.raw_query_string)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        event.update(_event_body(request.body, headers.get("content-type", "")))
    return event


def new_request_id() -> str:
    """An id in the style of API Gateway's ``apigw-requestid`` (16 base64 characters)."""
    return base64.b64encode(os.urandom(10)).decode("ascii")


def _is_text_content_type(content_type: str) -> bool:
    """True for media types API Gateway passes as text rather than base64."""
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    main_type, _, subtype = media_type.partition("/")
    if main_type == "text":
        return True
    structured_suffix = subtype.rpartition("+")[2]
    return main_type == "application" and (subtype in _TEXT_SUBTYPES or structured_suffix in ("json", "xml"))


def _event_headers(request: HttpRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        # Format 2.0 moves cookies to their own field.
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    # What API Gateway adds for its integrations, so handlers can rebuild the caller's URL.
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    host = headers.get("host", "")
    if host.rpartition(":")[2].isdigit():
        headers.setdefault("x-forwarded-port", host.rpartition(":")[2])
    return headers


def _cookies(request: HttpRequest) -> list[str]:
    return [
        cookie.strip()
        for name, value in request.headers
        if name.lower() == "cookie"
        for cookie in value.split(";")
        if cookie.strip()
    ]


def _query_parameters(raw_query_string: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(raw_query_string, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    return parameters


def _event_body(body: bytes, content_type: str) -> dict[str, Any]:
    if _is_text_content_type(content_type):
        try:
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass  # text by its label, binary by its bytes: sent as binary, like any other
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}
