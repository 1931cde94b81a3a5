"""What the OpenAPI document says about responses, so it matches what the API really sends.

Every route passes ``responses=responses(404, 403, ...)``: its success response (the return
annotation's schema), the problem details of each error it can answer, and always the 422 of
request validation and the 401 API Gateway's authorizer answers before the function runs.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, SecurityScheme
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from fiscal_core.api.problems import PROBLEM_CONTENT_TYPE, Problem

SECURITY_SCHEME: Final = "cognito"
SECURITY_SCHEMES: Final[dict[str, SecurityScheme]] = {
    SECURITY_SCHEME: HTTPBearer(
        scheme="bearer",
        bearerFormat="JWT",
        description="A Cognito user pool access token (ID tokens are refused).",
    )
}
# The gateway's own 401 body, written before any FiscalMix code runs.
_GATEWAY_401: Final[OpenAPIResponse] = {
    "description": "No valid access token (answered by API Gateway's JWT authorizer).",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"message": {"type": "string"}}},
        }
    },
}


def responses(*errors: int, success: int = 200, description: str = "Success") -> dict[int, OpenAPIResponse]:
    """The responses of an authenticated route: success, 401, 422, 503 and the ``errors`` given.

    A 204 declares no content: left out, Powertools would describe the handler's ``Response[None]``
    as a JSON ``null`` body, which a 204 never carries.
    """
    answer: OpenAPIResponse = {"description": description}
    if success == HTTPStatus.NO_CONTENT:
        answer["content"] = {}
    result: dict[int, OpenAPIResponse] = {success: answer, 401: _GATEWAY_401}
    for status in sorted({*errors, 422, 500, 503}):
        result[status] = _problem_response(status)
    return result


def public_responses(*errors: int, description: str = "Success") -> dict[int, OpenAPIResponse]:
    """The responses of a public route (no token): success and the problems given."""
    result: dict[int, OpenAPIResponse] = {200: {"description": description}}
    for status in errors:
        result[status] = _problem_response(status)
    return result


def _problem_response(status: int) -> OpenAPIResponse:
    content: dict[str, Any] = {PROBLEM_CONTENT_TYPE: {"model": Problem}}
    return {"description": HTTPStatus(status).phrase, "content": content}
