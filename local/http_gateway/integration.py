"""The socket-free core of the gateway: route, authorize, invoke, map the result.

Everything API Gateway decides for itself happens here, so it can be exercised without a server:
404 for an unknown route, the JWT authorizer's 401/403, 500 for a failed or malformed invocation,
503 when the integration timeout passes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from local.http_gateway.events import HttpRequest, build_http_event, new_request_id
from local.http_gateway.responses import (
    HttpResponse,
    MalformedLambdaResponse,
    gateway_error,
    response_from_lambda,
)
from local.http_gateway.routes import HttpRoute, RouteTable
from local.jwt_authorizer import AuthorizationDenied, JwtAuthorizer
from local.lambda_runtime import invoke

logger = logging.getLogger(__name__)

# HTTP APIs cap the integration timeout at 30 s and answer 503 when it passes.
INTEGRATION_TIMEOUT_SECONDS = 30.0


class HttpApi:
    """One HTTP API: its routes, its optional JWT authorizer, and the integration timeout."""

    def __init__(
        self,
        routes: Sequence[HttpRoute],
        authorizer: JwtAuthorizer | None = None,
        *,
        api_id: str = "local",
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        unauthorized = [route.route_key for route in routes if route.authorization == "JWT"]
        if unauthorized and authorizer is None:
            raise ValueError(f"routes {unauthorized} use JWT authorization but no authorizer is configured")
        self._routes = RouteTable(routes)
        self._authorizer = authorizer
        self._api_id = api_id
        self._integration_timeout = integration_timeout_seconds

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The response API Gateway would give ``request``; the handler runs only if it should."""
        request_id = new_request_id()
        request_id_header = ("apigw-requestid", request_id)
        match = self._routes.match(request.method, request.raw_path)
        if match is None:
            return gateway_error(404, "Not Found", request_id_header)
        route = match.route
        event = build_http_event(
            request,
            route_key=route.route_key,
            path_parameters=match.path_parameters,
            api_id=self._api_id,
            request_id=request_id,
        )
        if route.authorization == "JWT" and self._authorizer is not None:
            try:
                event["requestContext"]["authorizer"] = self._authorizer.authorize(event, route.scopes)
            except AuthorizationDenied as denied:
                return gateway_error(
                    denied.status,
                    denied.message,
                    ("www-authenticate", denied.www_authenticate),
                    request_id_header,
                )
            except Exception:
                logger.exception("JWT authorizer failed on %s %s", request.method, request.raw_path)
                return gateway_error(500, "Internal Server Error", request_id_header)
        response = self._integrate(route, event)
        return HttpResponse(response.status, (*response.headers, request_id_header), response.body)

    def _integrate(self, route: HttpRoute, event: dict[str, Any]) -> HttpResponse:
        invocation = _Invocation(route, event)
        deadline = min(route.timeout_seconds, self._integration_timeout)
        if not invocation.wait(deadline):
            # Python cannot stop the handler's thread: it runs on and its result is dropped.
            if route.timeout_seconds < self._integration_timeout:
                logger.error("%s timed out after %.1f s", route.function_name, route.timeout_seconds)
                return gateway_error(500, "Internal Server Error")
            logger.error("%s passed the %.1f s integration timeout", route.function_name, deadline)
            return gateway_error(503, "Service Unavailable")
        if invocation.error is not None:
            # The traceback stays in the log, as it stays in CloudWatch: the client sees only a 500.
            logger.error("%s raised an exception", route.function_name, exc_info=invocation.error)
            return gateway_error(500, "Internal Server Error")
        try:
            return response_from_lambda(invocation.result)
        except MalformedLambdaResponse as exc:
            logger.error("%s returned a malformed response: %s", route.function_name, exc)
            return gateway_error(500, "Internal Server Error")


class _Invocation:
    """One handler call on its own thread, so the gateway can stop waiting for it."""

    def __init__(self, route: HttpRoute, event: dict[str, Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(route, event), name=f"lambda-{route.function_name}", daemon=True
        )
        thread.start()

    def _run(self, route: HttpRoute, event: dict[str, Any]) -> None:
        try:
            self.result = invoke(route.handler, event, route.function_name, route.timeout_seconds)
        # Even SystemExit is a failed invocation to Lambda, never a dead gateway thread.
        except BaseException as exc:
            self.error = exc
        finally:
            self._done.set()

    def wait(self, timeout: float) -> bool:
        """True once the handler finished within ``timeout`` seconds."""
        return self._done.wait(timeout)
