"""The agents' WebSocket API: ``$connect``, ``$disconnect``, ``$default`` and the agent's messages.

Every route lands here; the route key picks what to do and :mod:`fiscal_core.bridge.routes`
does it. A message that cannot be read gets a note back, never a traceback; an unexpected
failure is logged and answered 500 (API Gateway tells the agent, which sends again).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.bridge.runtime import get_bridge
from fiscal_core.observability import logger, metrics, tracer


# clear_state: one message's agent must not be named in the next invocation's logs.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Serve one WebSocket event."""
    request = event.get("requestContext") or {}
    route = str(request.get("routeKey") or "$default")
    logger.append_keys(route=route, connection_id=request.get("connectionId"))
    metrics.add_metric(name="BridgeEvents", unit=MetricUnit.Count, value=1)
    routes = get_bridge().routes
    try:
        if route == "$connect":
            return routes.connect(event)
        if route == "$disconnect":
            return routes.disconnect(event)
        return routes.message(event)
    except Exception:
        logger.exception("bridge route failed")
        return {"statusCode": 500, "body": '{"message": "Internal server error"}'}
