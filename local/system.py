"""The whole of FiscalMix on one machine: the AWS plane, the stack, the gateways and the pollers.

:class:`LocalSystem` synthesizes the CDK app, deploys its template into moto, and starts what
AWS would run around the functions: an HTTP gateway per HTTP API, a WebSocket gateway per
WebSocket API, an SQS poller per event source mapping and one scheduler for every schedule.
It also starts the SEFAZ simulator and points the DF-e sync at it, on the simulator's clock.
``make run`` (``fiscalmix local``) and the end-to-end tests both use it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from fiscal_core.bridge.runtime import use_bridge
from fiscal_core.bridge.settings import ENV_MANAGEMENT_URL
from fiscal_core.container import new_container
from fiscal_core.settings import (
    ENV_SEFAZ_BASE_URL,
    ENV_SEFAZ_CA_FILE,
    ENV_SEFAZ_CA_PEM,
    ENV_SEFAZ_ENVIRONMENT,
    get_settings,
)
from fiscal_core.sync.crash import NO_CRASHES, CrashPoints
from fiscal_core.sync.runtime import build_fan_out, build_worker
from functions.sync_worker import fanout as sync_fanout
from functions.sync_worker import handler as sync_handler
from local.aws import LOCAL_ACCOUNT, LocalAws
from local.cfn.intrinsics import resolve
from local.cfn.resources import DeployContext
from local.cfn.stack import ApiRecord, DeployedStack, deploy_template, local_function, shared_environment
from local.http_gateway import HttpGateway, HttpRoute, JwtAuthorizerConfig
from local.lambda_dispatch import FunctionRegistry, LocalFunction, install, uninstall
from local.scheduler import Schedule, Scheduler, SimulatedClock
from local.sefaz import SefazSimulator, SimClock
from local.sqs_poller import EventSourceMapping, SqsPoller
from local.synth import synthesize_template
from local.ws_gateway import WsApiConfig, WsGateway, WsRoute

log = logging.getLogger("fiscalmix.local")

# Locally there is no X-Ray daemon nor CloudWatch to read metrics from; Powertools would
# otherwise try to reach the one and print the other's EMF lines over the request log.
_LOCAL_ONLY_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
_SYNC_WORKER_HANDLER = "functions.sync_worker.handler.lambda_handler"


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
    # Variables for the functions on top of the template's: tests shorten the sync's pauses.
    environment: dict[str, str] = field(default_factory=dict)
    # The SEFAZ simulator's clock, which the sync worker reads too; by default it runs as fast as
    # the scheduler's. Tests pass a frozen SimClock and move time by hand.
    sefaz_clock: SimClock | None = None


@dataclass
class LocalSystem:
    """Start with :meth:`start`, stop with :meth:`stop`; everything binds to 127.0.0.1."""

    options: LocalOptions = field(default_factory=LocalOptions)
    aws: LocalAws = field(init=False)
    template: dict[str, Any] = field(init=False)  # what was deployed, as CDK synthesized it
    stack: DeployedStack = field(init=False)
    registry: FunctionRegistry = field(default_factory=FunctionRegistry)
    http_gateways: dict[str, HttpGateway] = field(default_factory=dict)
    ws_gateways: dict[str, WsGateway] = field(default_factory=dict)
    pollers: list[SqsPoller] = field(default_factory=list)
    scheduler: Scheduler | None = None
    sefaz: SefazSimulator | None = None
    _saved_environment: dict[str, str | None] = field(default_factory=dict)
    _in_flight: int = 0  # handler invocations running now, whatever started them
    _idle: threading.Condition = field(default_factory=threading.Condition)

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
        new_container()  # nothing a previous system's functions built serves this one
        self.aws.export_environment()
        template = self.template = self.options.template or synthesize_template(self.options.stage)
        context = DeployContext(
            clients=self.aws.client,
            account=LOCAL_ACCOUNT,
            region=self.aws.names.region,
            stack_name=f"FiscalMix-{self.options.stage}",
        )
        self.stack = deploy_template(template, context)
        self._drop_bucket_policies(template)
        # One process holds every function, so the variables they share go in its environment.
        self._set_environment({**shared_environment(self.stack.functions), **_LOCAL_ONLY_ENVIRONMENT})
        sync = self._has_sync()
        if sync:
            self._start_sefaz()
        self._set_environment(self.options.environment)
        new_container()  # the functions' settings and clients must see every variable set above
        if sync:
            self.use_sync_worker()
        for record in self.stack.functions.values():
            self.registry.register(self._tracked(local_function(record)))
        install(self.registry)
        for api in self.stack.apis.values():
            if api.protocol == "HTTP":
                self._start_http(api)
            elif api.protocol == "WEBSOCKET":
                self._start_ws(api)
        # Management API calls from handlers must reach the local WebSocket gateway, not moto;
        # the bridge names its endpoint explicitly (AWS's is per API and stage).
        for gateway in self.ws_gateways.values():
            self._set_environment(
                {
                    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": gateway.management_url,
                    ENV_MANAGEMENT_URL: gateway.management_url,
                }
            )
        new_container()
        use_bridge(None)
        self._start_pollers()
        if self.options.start_schedules:
            self._start_scheduler()

    def _tracked(self, function: LocalFunction) -> LocalFunction:
        """``function``, counted while it runs, so that stopping can wait for it to return."""

        def run(event: dict[str, Any], context: Any) -> Any:
            with self._idle:
                self._in_flight += 1
            try:
                return function.handler(event, context)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        return LocalFunction(function.name, run, function.timeout_seconds)

    def _drain(self, timeout_s: float = 15.0) -> None:
        """Abort the executions still running and wait for the handlers still running.

        A sync started by the demo (or a test) may be mid-task when the system stops: stopping
        moto and the simulator under it would make it fail loudly on the way out.
        """
        sfn = self.aws.client("stepfunctions")
        for arn in self.stack.state_machines.values():
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
            for execution in (e for page in pages for e in page["executions"]):
                sfn.stop_execution(
                    executionArn=execution["executionArn"], cause="the local system is stopping"
                )
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout_s)

    def _drop_bucket_policies(self, template: dict[str, Any]) -> None:
        """Remove the bucket policies the deployer applied: moto 5.2.5 evaluates a bucket policy
        without its Conditions, so the stack's TLS-only Deny (aws:SecureTransport false) denies
        every object read and write. Locally, as for IAM, the policies are not enforced at all.
        """
        s3 = self.aws.client("s3")
        for resource in template.get("Resources", {}).values():
            if resource["Type"] == "AWS::S3::BucketPolicy":
                s3.delete_bucket_policy(Bucket=resolve(resource["Properties"]["Bucket"], self.stack.context))

    def _has_sync(self) -> bool:
        return any(r.handler_path == _SYNC_WORKER_HANDLER for r in self.stack.functions.values())

    def _start_sefaz(self) -> None:
        """The SEFAZ simulator on loopback, its clock as fast as the scheduler's, and the sync's
        settings pointing at it (its URL, and its CA as the roots that vouch for it)."""
        self.sefaz = SefazSimulator(clock=self.options.sefaz_clock or SimClock(scale=self.options.time_scale))
        self.sefaz.start()
        self._set_environment(
            {
                ENV_SEFAZ_ENVIRONMENT: "local",
                ENV_SEFAZ_BASE_URL: self.sefaz.url,
                ENV_SEFAZ_CA_PEM: self.sefaz.ca_pem.decode(),
            }
        )
        # The template points at the ICP-Brasil bundle in Lambda's layer (/opt/...): here the
        # simulator's CA alone vouches for the simulator.
        self._unset_environment(ENV_SEFAZ_CA_FILE)

    def use_sync_worker(self, crash: CrashPoints = NO_CRASHES) -> None:
        """(Re)build the sync worker and fan-out the handlers run, on the simulator's clock.

        SEFAZ's rules (an hour after 137, 656 blocks) are judged on the simulator's clock, so the
        worker must read the same one: a test that advances it an hour finds the sync due.
        ``crash`` makes the worker die at a chosen point (fiscal_core.sync.crash).
        """
        if self.sefaz is None:
            raise RuntimeError("the sync runs against the SEFAZ simulator, which is not running")
        settings, clock = get_settings(), self.sefaz.clock.now
        sync_handler.use_worker(build_worker(settings, clock=clock, crash=crash))
        sync_fanout.use_fan_out(build_fan_out(settings, clock=clock))

    def _set_environment(self, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _unset_environment(self, name: str) -> None:
        self._saved_environment.setdefault(name, os.environ.get(name))
        os.environ.pop(name, None)

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
        if self.sefaz is not None:
            urls["SEFAZ simulator"] = self.sefaz.url
        return urls

    def stop(self) -> None:
        """Stop everything that was started, newest first; safe to call more than once."""
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if hasattr(self, "stack"):  # deployed: executions may be running
            self._drain()
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
        # The functions' containers go with the system: what a handler built on its cold start
        # (clients of this moto, tables of this stage) must not serve the next system a process
        # starts, as tests do one module after another.
        new_container()
        use_bridge(None)
        sync_handler.use_worker(None)
        sync_fanout.use_fan_out(None)
        if self.sefaz is not None:
            self.sefaz.stop()
            self.sefaz = None
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
