"""The HTTP API's entry point: the resolver of :mod:`functions.api.app`, built once per container.

Importing it is most of a cold start: every route, its models and their dependencies, the
observability tools included. The garbage collector is paused for the whole of it (an import
makes little cyclic garbage, and each collection would rescan every object imported so far), and
what was built is then frozen out of later collections, as it lives as long as the container
(bench/coldstart.py measures the effect).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.typing import LambdaContext

    Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _build() -> tuple[APIGatewayHttpResolver, Handler]:
    gc.disable()
    try:
        from fiscal_core.observability import API_GATEWAY_HTTP_CORRELATION, logger, metrics, tracer
        from functions.api.app import app as resolver

        # clear_state: the caller's account and user ids, appended per request, must not outlive it.
        @logger.inject_lambda_context(correlation_id_path=API_GATEWAY_HTTP_CORRELATION, clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            """Resolve one API Gateway HTTP API event into a route's response."""
            return resolver.resolve(event, context)

        return resolver, handle
    finally:
        gc.enable()
        gc.freeze()


app, lambda_handler = _build()
