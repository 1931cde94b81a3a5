"""What a local WebSocket API is made of: its routes and the API Gateway limits it enforces.

The defaults are API Gateway's own quotas
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html);
tests shorten the timeouts, nothing should raise the sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from local.lambda_runtime import Handler
from local.ws_gateway.routing import (
    DEFAULT_ROUTE,
    LIFECYCLE_ROUTES,
    selected_route_key,
    selection_path,
)


@dataclass(frozen=True)
class WsRoute:
    """One route: its key, the Lambda handler behind it, and whether it has a route response.

    ``two_way`` models a route response: only then does the handler's returned ``body`` go back
    to the client, as in API Gateway; otherwise the handler must answer with ``post_to_connection``.
    """

    route_key: str
    handler: Handler
    function_name: str
    two_way: bool = False


@dataclass(frozen=True)
class WsApiConfig:
    """A WebSocket API: route selection, routes, and the limits API Gateway enforces on connections."""

    route_selection_expression: str = "$request.body.action"
    routes: Sequence[WsRoute] = ()
    idle_timeout_s: float = 600.0
    max_connection_s: float = 7200.0
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = 32 * 1024
    stage: str = "prod"
    api_id: str = "fmlocalws01"

    def __post_init__(self) -> None:
        selection_path(self.route_selection_expression)  # fail at configuration, not on first message
        keys = [route.route_key for route in self.routes]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"route keys configured more than once: {duplicates}")
        if not self.stage or "/" in self.stage:
            raise ValueError(f"stage must be one non-empty path segment, got {self.stage!r}")

    def route(self, route_key: str) -> WsRoute | None:
        """The route with exactly this key (keys are case-sensitive, as in API Gateway)."""
        return next((route for route in self.routes if route.route_key == route_key), None)

    def select_route(self, message: str | bytes) -> WsRoute | None:
        """The route API Gateway would send ``message`` to: the selected one, else ``$default``, else None."""
        key = selected_route_key(selection_path(self.route_selection_expression), message)
        selected = self.route(key) if key is not None and key not in LIFECYCLE_ROUTES else None
        return selected or self.route(DEFAULT_ROUTE)
