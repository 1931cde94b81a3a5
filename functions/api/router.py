"""The Router every resource module starts from."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter


def resource_router() -> APIGatewayHttpRouter:
    """A new Router for one resource, to be listed in ``functions.api.routes.ROUTERS``."""
    return APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
