"""What a Lambda result becomes on the wire, and the responses API Gateway writes itself.

Payload format 2.0 rules
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
a result with ``statusCode`` is a full response (headers, cookies as Set-Cookie, a body that may be
base64); any other JSON result is a "simple response": status 200, the JSON as body, and
``content-type: application/json``; a bare string is the body itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Framing is the server's business: a handler's value for these would corrupt the connection.
_HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


@dataclass(frozen=True)
class HttpResponse:
    """A response ready to write: status, header lines in order (repeats allowed), body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header, matched case-insensitively; None if absent."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class MalformedLambdaResponse(Exception):
    """A handler result API Gateway could not turn into an HTTP response (it answers 500)."""


def gateway_error(status: int, message: str, *extra_headers: tuple[str, str]) -> HttpResponse:
    """A response API Gateway writes on its own, such as ``{"message":"Not Found"}``."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, (("content-type", "application/json"), *extra_headers), body)


def response_from_lambda(result: Any) -> HttpResponse:
    """Map a handler's return value to the response API Gateway would send.

    Raises :class:`MalformedLambdaResponse` when API Gateway would answer 500 instead.
    """
    if isinstance(result, Mapping) and "statusCode" in result:
        return _full_response(result)
    if isinstance(result, str):
        body = result
    else:
        try:
            body = json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise MalformedLambdaResponse(f"the result is not JSON serializable: {exc}") from exc
    return HttpResponse(200, (("content-type", "application/json"),), body.encode("utf-8"))


def _full_response(result: Mapping[str, Any]) -> HttpResponse:
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedLambdaResponse(f"statusCode {status!r} is not an HTTP status")
    headers = _headers(result.get("headers") or {}, result.get("multiValueHeaders") or {})
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedLambdaResponse("cookies must be a list of strings")
    headers.extend(("set-cookie", str(cookie)) for cookie in cookies)
    return HttpResponse(status, tuple(headers), _body(result))


def _headers(single: Mapping[str, Any], multi: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise MalformedLambdaResponse("headers and multiValueHeaders must be objects")
    # As REST APIs merge them: a name in multiValueHeaders takes its values from there only.
    multi_names = {name.lower() for name in multi}
    lines = [(name, str(value)) for name, value in single.items() if name.lower() not in multi_names]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedLambdaResponse(f"multiValueHeaders[{name!r}] must be a list")
        lines.extend((name, str(value)) for value in values)
    return [(name, value) for name, value in lines if name.lower() not in _HOP_BY_HOP]


def _body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedLambdaResponse(f"body must be a string, got {type(body).__name__}")
    if not result.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise MalformedLambdaResponse("isBase64Encoded is true but the body is not base64") from exc
