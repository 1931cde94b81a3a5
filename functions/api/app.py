"""The HTTP API's resolver: one Powertools resolver behind API Gateway's HTTP API (payload v2).

Resources arrive as Routers (``functions.api.routes.ROUTERS``); errors leave as problem details
(``functions.api.errors``). Every route but ``/health``, ``/openapi.json`` and ``/docs`` sits
behind the Cognito JWT authorizer, so a request reaching an authenticated route carries
verified claims. Request and response bodies are validated against the routes' Pydantic models,
which also make the OpenAPI 3.1 document.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from fiscal_core.api.openapi import SECURITY_SCHEME, SECURITY_SCHEMES, public_responses
from functions.api.errors import register_error_handlers
from functions.api.routes import ROUTERS

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
for router in ROUTERS:
    app.include_router(router)
app.configure_openapi(
    title="FiscalMix API",
    version="1.0.0",
    description="Brazilian fiscal documents for accounting firms and companies. Errors are RFC 9457 "
    "problem details (application/problem+json).",
    security_schemes=SECURITY_SCHEMES,
    security=[{SECURITY_SCHEME: []}],
)
app.enable_swagger(path=DOCS_PATH)


@app.get(OPENAPI_PATH, include_in_schema=False, responses=public_responses())
def openapi_document() -> Response[str]:
    """The OpenAPI 3.1 document, generated from the routes and their models."""
    return Response(200, "application/json", app.get_openapi_json_schema())
