"""The local HTTP API: API Gateway payload 2.0 events, routes and the JWT authorizer, in-process.

Start one with :class:`HttpGateway`; build its routes with :class:`HttpRoute` and its authorizer
with :class:`JwtAuthorizerConfig`. Nothing here knows about CDK: whoever reads the synthesized
template turns it into these objects.
"""

from local.http_gateway.events import HttpRequest, build_http_event
from local.http_gateway.integration import HttpApi
from local.http_gateway.responses import HttpResponse, response_from_lambda
from local.http_gateway.routes import HttpRoute, RouteMatch, RouteTable
from local.http_gateway.server import HttpGateway
from local.jwt_authorizer import JwtAuthorizerConfig

__all__ = [
    "HttpApi",
    "HttpGateway",
    "HttpRequest",
    "HttpResponse",
    "HttpRoute",
    "JwtAuthorizerConfig",
    "RouteMatch",
    "RouteTable",
    "build_http_event",
    "response_from_lambda",
]
