"""The local WebSocket API: API Gateway WebSocket events, routes and ``@connections``, in-process.

Describe the API with :class:`WsApiConfig` and :class:`WsRoute`, then run it with
:class:`WsGateway`. Agents connect to ``gateway.url``; Lambda code reaches the management API
with ``boto3.client("apigatewaymanagementapi", endpoint_url=gateway.management_url)``, or with no
``endpoint_url`` when ``AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`` holds that URL. Lambda code
must take that endpoint from configuration: ``requestContext.domainName`` here is the host and
port the client dialled, and the management API listens on a port of its own, over plain HTTP.
"""

from local.ws_gateway.config import WsApiConfig, WsRoute
from local.ws_gateway.gateway import WsGateway
from local.ws_gateway.management import ConnectionGone, PayloadTooLarge
from local.ws_gateway.routing import CONNECT_ROUTE, DEFAULT_ROUTE, DISCONNECT_ROUTE

__all__ = [
    "CONNECT_ROUTE",
    "DEFAULT_ROUTE",
    "DISCONNECT_ROUTE",
    "ConnectionGone",
    "PayloadTooLarge",
    "WsApiConfig",
    "WsGateway",
    "WsRoute",
]
