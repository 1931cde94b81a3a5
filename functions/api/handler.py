"""The HTTP API's entry point: one Powertools resolver behind API Gateway's HTTP API (payload v2).

Resources arrive as Routers included into ``app``. Every route but ``/health`` sits behind the
Cognito JWT authorizer, so a request reaching a route carries verified claims.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.observability import API_GATEWAY_HTTP_CORRELATION, logger, metrics, tracer

app = APIGatewayHttpResolver()


@app.get("/health")
@tracer.capture_method
def health() -> dict[str, str]:
    """Liveness: answers without touching any AWS resource, so it stays public and cheap."""
    return {"status": "ok"}


@app.get("/me")
@tracer.capture_method
def me() -> dict[str, str | None]:
    """Who is calling, as the authorizer verified it: the user pool's subject and email."""
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    return {
        "sub": claims.get("sub"),
        "username": claims.get("username"),
        "client_id": claims.get("client_id"),
    }


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_HTTP_CORRELATION)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one API Gateway HTTP API event into a route's response."""
    return app.resolve(event, context)
