"""Deploy a synthesized template into moto, and read what the local runtime must run from it.

Resources moto can hold are created through its APIs (``resources.py``). Lambda functions,
API Gateway v2 APIs, event source mappings and schedules are read from the template into plain
records: the local gateways, pollers and scheduler are built from those records, so their
routes, authorizers, batch sizes and expressions are exactly what CDK synthesized.
"""

from __future__ import annotations

import importlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.cfn.intrinsics import ResolveContext, creation_order, resolve
from local.cfn.resources import Created, DeployContext, creator_for
from local.lambda_dispatch import LocalFunction
from local.lambda_runtime import Handler

log = logging.getLogger("fiscalmix.local.cfn")


@dataclass
class FunctionRecord:
    """An ``AWS::Lambda::Function``: its name, handler path, timeout and environment."""

    logical_id: str
    name: str
    handler_path: str
    timeout_seconds: float
    environment: dict[str, str]


@dataclass
class RouteRecord:
    """An ``AWS::ApiGatewayV2::Route`` with its integration's target function resolved."""

    api_id: str
    route_key: str
    function_name: str | None
    authorization_type: str
    authorizer_id: str | None
    scopes: tuple[str, ...]
    two_way: bool


@dataclass
class ApiRecord:
    """An ``AWS::ApiGatewayV2::Api`` (HTTP or WEBSOCKET) and what hangs off it."""

    api_id: str
    name: str
    protocol: str
    route_selection_expression: str | None
    stage: str = "$default"
    routes: list[RouteRecord] = field(default_factory=list)
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EventSourceRecord:
    """An ``AWS::Lambda::EventSourceMapping`` from a queue."""

    queue_arn: str
    function_name: str
    batch_size: int
    batching_window_s: float
    report_batch_item_failures: bool


@dataclass
class ScheduleRecord:
    """An ``AWS::Scheduler::Schedule`` or a scheduled ``AWS::Events::Rule`` targeting a function."""

    name: str
    expression: str
    function_name: str
    input: str | None


@dataclass
class DeployedStack:
    """Everything created or read from one template."""

    context: ResolveContext
    functions: dict[str, FunctionRecord] = field(default_factory=dict)
    apis: dict[str, ApiRecord] = field(default_factory=dict)
    event_sources: list[EventSourceRecord] = field(default_factory=list)
    schedules: list[ScheduleRecord] = field(default_factory=list)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id → ARN
    outputs: dict[str, Any] = field(default_factory=dict)

    def function(self, name_or_arn: str) -> FunctionRecord:
        """The function for a name or an ARN (including API Gateway invocation URIs)."""
        name = function_name_of(name_or_arn)
        if name not in self.functions:
            raise KeyError(f"no function {name!r} in the template")
        return self.functions[name]

    def queue_url(self, queue_arn: str) -> str:
        """The URL of the queue created for ``queue_arn``."""
        for (logical_id, attribute), value in self.context.attributes.items():
            if attribute == "Arn" and value == queue_arn:
                return self.context.refs[logical_id]
        raise KeyError(f"no queue with ARN {queue_arn}")


def function_name_of(arn_or_uri: str) -> str:
    """``my-fn`` from a name, a Lambda ARN or an API Gateway ``.../functions/<arn>/invocations``."""
    if "/functions/" in arn_or_uri:
        arn_or_uri = arn_or_uri.split("/functions/", 1)[1].split("/invocations", 1)[0]
    parts = arn_or_uri.split(":")
    return parts[6] if len(parts) >= 7 and parts[5] == "function" else parts[-1]


def lazy_handler(handler_path: str) -> Handler:
    """A handler that imports ``module.attribute`` on its first call, as a Lambda cold start does."""
    module_name, _, attribute = handler_path.rpartition(".")
    loaded: list[Handler] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> Any:
        with lock:
            if not loaded:
                loaded.append(getattr(importlib.import_module(module_name), attribute))
        return loaded[0](event, context)

    return handler


def local_function(record: FunctionRecord) -> LocalFunction:
    """The in-process function for a template's Lambda function."""
    return LocalFunction(record.name, lazy_handler(record.handler_path), record.timeout_seconds)


class _Reader:
    """Reads the resource types that configure the local runtime instead of moto."""

    def __init__(self, stack: DeployedStack, ctx: DeployContext) -> None:
        self.stack = stack
        self.ctx = ctx
        self.integrations: dict[str, str] = {}  # integration id → function name
        self.route_responses: set[str] = set()  # route ids with a route response (two-way)
        self.routes: list[tuple[str, dict[str, Any]]] = []

    def read(self, resource_type: str) -> Callable[[str, dict[str, Any]], Created] | None:
        return {
            "AWS::Lambda::Function": self.function,
            "AWS::ApiGatewayV2::Api": self.api,
            "AWS::ApiGatewayV2::Integration": self.integration,
            "AWS::ApiGatewayV2::Authorizer": self.authorizer,
            "AWS::ApiGatewayV2::Route": self.route,
            "AWS::ApiGatewayV2::RouteResponse": self.route_response,
            "AWS::ApiGatewayV2::Stage": self.api_stage,
            "AWS::ApiGatewayV2::Deployment": lambda logical_id, _: Created(logical_id),
            "AWS::Lambda::EventSourceMapping": self.event_source,
            "AWS::Scheduler::Schedule": self.schedule,
            "AWS::Events::Rule": self.rule,
        }.get(resource_type)

    def function(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("FunctionName") or self.ctx.default_name(logical_id)
        self.stack.functions[name] = FunctionRecord(
            logical_id=logical_id,
            name=name,
            handler_path=props["Handler"],
            timeout_seconds=float(props.get("Timeout", 3)),
            environment={k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
        )
        return Created(name, {"Arn": self.ctx.arn("lambda", f"function:{name}")})

    def api(self, logical_id: str, props: dict[str, Any]) -> Created:
        api_id = secrets.token_hex(5)
        self.stack.apis[api_id] = ApiRecord(
            api_id=api_id,
            name=props.get("Name", logical_id),
            protocol=props["ProtocolType"],
            route_selection_expression=props.get("RouteSelectionExpression"),
        )
        endpoint = f"https://{api_id}.execute-api.{self.ctx.region}.amazonaws.com"
        return Created(api_id, {"ApiEndpoint": endpoint, "ApiId": api_id})

    def integration(self, logical_id: str, props: dict[str, Any]) -> Created:
        integration_id = secrets.token_hex(4)
        self.integrations[integration_id] = function_name_of(props["IntegrationUri"])
        return Created(integration_id)

    def authorizer(self, logical_id: str, props: dict[str, Any]) -> Created:
        authorizer_id = secrets.token_hex(4)
        self.stack.apis[props["ApiId"]].authorizers[authorizer_id] = props
        return Created(authorizer_id)

    def route(self, logical_id: str, props: dict[str, Any]) -> Created:
        route_id = secrets.token_hex(4)
        self.routes.append((route_id, props))
        return Created(route_id)

    def route_response(self, logical_id: str, props: dict[str, Any]) -> Created:
        self.route_responses.add(props["RouteId"])
        return Created(secrets.token_hex(4))

    def api_stage(self, logical_id: str, props: dict[str, Any]) -> Created:
        self.stack.apis[props["ApiId"]].stage = props["StageName"]
        return Created(props["StageName"])

    def event_source(self, logical_id: str, props: dict[str, Any]) -> Created:
        self.stack.event_sources.append(
            EventSourceRecord(
                queue_arn=props["EventSourceArn"],
                function_name=function_name_of(props["FunctionName"]),
                batch_size=int(props.get("BatchSize", 10)),
                batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures"
                in props.get("FunctionResponseTypes", []),
            )
        )
        return Created(secrets.token_hex(8))

    def schedule(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("Name") or logical_id
        if props.get("State", "ENABLED") == "ENABLED":
            target = props["Target"]
            self.stack.schedules.append(
                ScheduleRecord(
                    name, props["ScheduleExpression"], function_name_of(target["Arn"]), target.get("Input")
                )
            )
        return Created(name, {"Arn": self.ctx.arn("scheduler", f"schedule/default/{name}")})

    def rule(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("Name") or logical_id
        expression = props.get("ScheduleExpression")
        if expression and props.get("State", "ENABLED") == "ENABLED":
            for target in props.get("Targets", []):
                self.stack.schedules.append(
                    ScheduleRecord(name, expression, function_name_of(target["Arn"]), target.get("Input"))
                )
        return Created(name, {"Arn": self.ctx.arn("events", f"rule/{name}")})

    def finish(self) -> None:
        """Attach the routes to their APIs once every integration is known."""
        for route_id, props in self.routes:
            target = props.get("Target", "")
            integration_id = target.split("/", 1)[1] if target.startswith("integrations/") else None
            self.stack.apis[props["ApiId"]].routes.append(
                RouteRecord(
                    api_id=props["ApiId"],
                    route_key=props["RouteKey"],
                    function_name=self.integrations.get(integration_id or ""),
                    authorization_type=props.get("AuthorizationType", "NONE"),
                    authorizer_id=props.get("AuthorizerId"),
                    scopes=tuple(props.get("AuthorizationScopes", ())),
                    two_way=route_id in self.route_responses,
                )
            )


def deploy_template(template: Mapping[str, Any], ctx: DeployContext) -> DeployedStack:
    """Create the template's resources in moto, in dependency order, and read the rest."""
    resolve_context = ResolveContext(account=ctx.account, region=ctx.region, stack_name=ctx.stack_name)
    stack = DeployedStack(context=resolve_context)
    reader = _Reader(stack, ctx)
    resources = template.get("Resources", {})
    for logical_id in creation_order(resources):
        resource = resources[logical_id]
        props = resolve(resource.get("Properties", {}), resolve_context)
        read = reader.read(resource["Type"])
        created = read(logical_id, props) if read else creator_for(resource["Type"])(logical_id, props, ctx)
        resolve_context.refs[logical_id] = created.ref
        for name, value in created.attributes.items():
            resolve_context.attributes[(logical_id, name)] = value
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            stack.state_machines[logical_id] = created.ref
        log.debug("created %s %s → %s", resource["Type"], logical_id, created.ref)
    reader.finish()
    stack.outputs = {
        name: resolve(output["Value"], resolve_context)
        for name, output in template.get("Outputs", {}).items()
    }
    return stack


def shared_environment(functions: Mapping[str, FunctionRecord]) -> dict[str, str]:
    """The variables every function agrees on: in one process they can only be set once.

    Per-function values (the Powertools service name) differ and are left out; resource names
    and settings are the same for all functions of a stage and are kept.
    """
    values: dict[str, set[str]] = {}
    for record in functions.values():
        for name, value in record.environment.items():
            values.setdefault(name, set()).add(value)
    shared = {name: next(iter(v)) for name, v in values.items() if len(v) == 1}
    conflicting = sorted(name for name, v in values.items() if len(v) > 1)
    if conflicting:
        log.debug("per-function variables not set in-process: %s", json.dumps(conflicting))
    return shared
