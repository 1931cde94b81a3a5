"""The whole of FiscalMix on one machine: the AWS plane, the stack, the gateways and the pollers.

:class:`LocalSystem` synthesizes the CDK app, deploys its template into moto, and starts what
AWS would run around the functions: an HTTP gateway per HTTP API, a WebSocket gateway per
WebSocket API, an SQS poller per event source mapping and one scheduler for every schedule.
``make run`` (``fiscalmix local``) and the end-to-end tests both use it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from local.aws import LOCAL_ACCOUNT, LocalAws
from local.cfn.resources import DeployContext
from local.cfn.stack import ApiRecord, DeployedStack, deploy_template, local_function, shared_environment
from local.http_gateway import HttpGateway, HttpRoute, JwtAuthorizerConfig
from local.lambda_dispatch import FunctionRegistry, LocalFunction, install, uninstall
from local.scheduler import Schedule, Scheduler, SimulatedClock
from local.sqs_poller import EventSourceMapping, SqsPoller
from local.synth import synthesize_template
from local.ws_gateway import WsApiConfig, WsGateway, WsRoute

log = logging.getLogger("fiscalmix.local")

# Locally there is no X-Ray daemon nor CloudWatch to read metrics from; Powertools would
# otherwise try to reach the one and print the other's EMF lines over the request log.
_LOCAL_ONLY_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass
class LocalOptions:
    """What may differ between a demo, a test and a developer's run."""

    stage: str = "local"
    http_port: int = 0
    ws_port: int = 0
    time_scale: float = 1.0  # the scheduler's clock: 60 makes an hour pass in a minute
    start_schedules: bool = True
    ws_idle_timeout_s: float = 600.0
    template: dict[str, Any] | None = None  # a pre-synthesized template (tests reuse one)


@dataclass
class LocalSystem:
    """Start with :meth:`start`, stop with :meth:`stop`; everything binds to 127.0.0.1."""

    options: LocalOptions = field(default_factory=LocalOptions)
    aws: LocalAws = field(init=False)
    stack: DeployedStack = field(init=False)
    registry: FunctionRegistry = field(default_factory=FunctionRegistry)
    http_gateways: dict[str, HttpGateway] = field(default_factory=dict)
    ws_gateways: dict[str, WsGateway] = field(default_factory=dict)
    pollers: list[SqsPoller] = field(default_factory=list)
    scheduler: Scheduler | None = None
    _saved_environment: dict[str, str | None] = field(default_factory=dict)

    def start(self) -> None:
        """Bring every plane up, in the order AWS resources depend on each other."""
        self.aws = LocalAws(stage=self.options.stage)
        self.aws.start()
        try:
            self._start_planes()
        except BaseException:
            self.stop()
            raise

    def _start_planes(self) -> None:
        self.aws.export_environment()
        template = self.options.template or synthesize_template(self.options.stage)
        context = DeployContext(
            clients=self.aws.client,
            account=LOCAL_ACCOUNT,
            region=self.aws.names.region,
            stack_name=f"FiscalMix-{self.options.stage}",
        )
        self.stack = deploy_template(template, context)
        # One process holds every function, so the variables they share go in its environment.
        self._set_environment({**shared_environment(self.stack.functions), **_LOCAL_ONLY_ENVIRONMENT})
        for record in self.stack.functions.values():
            self.registry.register(local_function(record))
        install(self.registry)
        for api in self.stack.apis.values():
            if api.protocol == "HTTP":
                self._start_http(api)
            elif api.protocol == "WEBSOCKET":
                self._start_ws(api)
        # Management API calls from handlers must reach the local WebSocket gateway, not moto.
        for gateway in self.ws_gateways.values():
            self._set_environment({"AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": gateway.management_url})
        self._start_pollers()
        if self.options.start_schedules:
            self._start_scheduler()

    def _set_environment(self, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def function(self, name: str) -> LocalFunction:
        """A registered function by name (or ARN)."""
        function = self.registry.get(name)
        if function is None:
            raise KeyError(f"no local function {name!r}; known: {self.registry.names()}")
        return function

    def _start_http(self, api: ApiRecord) -> None:
        authorizer = None
        routes = []
        for route in api.routes:
            if route.function_name is None:
                continue
            if route.authorization_type == "JWT" and route.authorizer_id:
                authorizer = self._jwt_config(api.authorizers[route.authorizer_id])
            routes.append(
                HttpRoute(
                    route_key=route.route_key,
                    handler=self.function(route.function_name).handler,
                    function_name=route.function_name,
                    authorization="JWT" if route.authorization_type == "JWT" else "NONE",
                    scopes=route.scopes,
                    timeout_seconds=self.function(route.function_name).timeout_seconds,
                )
            )
        gateway = HttpGateway(routes, authorizer=authorizer, port=self.options.http_port, api_id=api.api_id)
        gateway.start()
        self.http_gateways[api.name] = gateway

    def _jwt_config(self, authorizer: dict[str, Any]) -> JwtAuthorizerConfig:
        jwt = authorizer["JwtConfiguration"]
        issuer = jwt["Issuer"]
        pool_id = issuer.rstrip("/").rsplit("/", 1)[-1]
        return JwtAuthorizerConfig(
            issuer=issuer,
            audience=tuple(jwt.get("Audience", ())),
            jwks_url=f"{self.aws.endpoint_url}/{pool_id}/.well-known/jwks.json",
            identity_source=(authorizer.get("IdentitySource") or ["$request.header.Authorization"])[0],
        )

    def _start_ws(self, api: ApiRecord) -> None:
        routes = [
            WsRoute(
                route.route_key,
                self.function(route.function_name).handler,
                route.function_name,
                route.two_way,
            )
            for route in api.routes
            if route.function_name is not None
        ]
        config = WsApiConfig(
            route_selection_expression=api.route_selection_expression or "$request.body.action",
            routes=routes,
            stage=api.stage,
            api_id=api.api_id,
            idle_timeout_s=self.options.ws_idle_timeout_s,
        )
        # moto is not safe under concurrent writes, so handlers run one at a time locally.
        gateway = WsGateway(config, port=self.options.ws_port, lambda_workers=1)
        gateway.start()
        self.ws_gateways[api.name] = gateway

    def _start_pollers(self) -> None:
        sqs = self.aws.client("sqs")
        for source in self.stack.event_sources:
            mapping = EventSourceMapping(
                queue_url=self.stack.queue_url(source.queue_arn),
                queue_arn=source.queue_arn,
                function=self.function(source.function_name),
                batch_size=source.batch_size,
                batching_window_s=source.batching_window_s,
                report_batch_item_failures=source.report_batch_item_failures,
            )
            poller = SqsPoller(mapping, sqs, region=self.aws.names.region)
            poller.start()
            self.pollers.append(poller)

    def _start_scheduler(self) -> None:
        schedules = [
            Schedule(s.name, s.expression, self.function(s.function_name), s.input)
            for s in self.stack.schedules
        ]
        if schedules:
            self.scheduler = Scheduler(schedules, SimulatedClock(time_scale=self.options.time_scale))
            self.scheduler.start()

    def urls(self) -> dict[str, str]:
        """Where to look: every gateway's URL and the AWS endpoint."""
        urls = {f"HTTP API {name}": gateway.url for name, gateway in self.http_gateways.items()}
        urls |= {f"WebSocket API {name}": gateway.url for name, gateway in self.ws_gateways.items()}
        urls["AWS endpoint (moto)"] = self.aws.endpoint_url
        return urls

    def stop(self) -> None:
        """Stop everything that was started, newest first; safe to call more than once."""
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()
        for ws in self.ws_gateways.values():
            ws.stop()
        self.ws_gateways.clear()
        for http in self.http_gateways.values():
            http.stop()
        self.http_gateways.clear()
        uninstall()
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()
        self.aws.stop()

    def __enter__(self) -> LocalSystem:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
