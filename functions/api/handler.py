"""The HTTP API's entry point: the resolver of :mod:`functions.api.app`, built once per container.

Building it imports every route, its models and their dependencies: most of a cold start. The
garbage collector is paused meanwhile (an import makes little cyclic garbage, and each collection
would rescan every object imported so far), and what was built is then frozen out of later
collections, as it lives as long as the container (bench/coldstart.py measures the effect).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.observability import API_GATEWAY_HTTP_CORRELATION, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver


def _build() -> APIGatewayHttpResolver:
    gc.disable()
    try:
        from functions.api.app import app as built

        return built
    finally:
        gc.enable()
        gc.freeze()


app = _build()


# clear_state: the caller's account and user ids, appended per request, must not outlive it.
@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_HTTP_CORRELATION, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one API Gateway HTTP API event into a route's response."""
    return app.resolve(event, context)
