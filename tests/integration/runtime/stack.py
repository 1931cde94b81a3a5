"""A small CDK stack with one of each thing the local runtime must run from a template.

The product's own stack grows these (the sync workflow, the export queue, the agents' WebSocket
API) feature by feature; this stack proves the runtime handles each kind as CDK synthesizes it.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

HANDLERS = "tests.integration.runtime.handlers"


def _function(stack: Stack, name: str, timeout_s: int = 20) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name.capitalize(),
        function_name=f"runtime-{name}",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler=f"{HANDLERS}.{name}",
        code=lambda_.Code.from_inline("# runs from the work tree locally"),
        timeout=Duration.seconds(timeout_s),
        environment={"RUNTIME_TEST": "1"},
    )


def build_template() -> dict[str, Any]:
    """Synthesize the stack and return its template."""
    app = App()
    stack = Stack(app, "RuntimeTest")
    step = _function(stack, "step")
    loop = tasks.LambdaInvoke(stack, "FetchPage", lambda_function=step, payload_response_only=True)
    wait = sfn.Wait(stack, "Wait", time=sfn.WaitTime.seconds_path("$.wait_seconds"))
    done = sfn.Succeed(stack, "Done")
    definition = loop.next(
        sfn.Choice(stack, "More?")
        .when(sfn.Condition.boolean_equals("$.done", True), done)
        .otherwise(wait.next(loop))
    )
    sfn.StateMachine(stack, "Loop", definition_body=sfn.DefinitionBody.from_chainable(definition))

    dlq = sqs.Queue(stack, "Dlq")
    queue = sqs.Queue(
        stack,
        "Queue",
        visibility_timeout=Duration.seconds(1),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=2),
    )
    # Visibility timeout as short as the worker's: redelivery within the test's patience.
    _function(stack, "worker", timeout_s=1).add_event_source(
        sources.SqsEventSource(queue, batch_size=5, report_batch_item_failures=True)
    )

    tick = _function(stack, "tick")
    role = iam.Role(stack, "SchedulerRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"))
    scheduler.CfnSchedule(
        stack,
        "Hourly",
        name="hourly",
        schedule_expression="rate(1 hour)",
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        target=scheduler.CfnSchedule.TargetProperty(
            arn=tick.function_arn, role_arn=role.role_arn, input='{"tick": 1}'
        ),
    )

    bridge = _function(stack, "bridge")
    integration = integrations.WebSocketLambdaIntegration("Bridge", bridge)
    ws = apigwv2.WebSocketApi(
        stack,
        "Agents",
        api_name="agents",
        connect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
        disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
    )
    ws.add_route("echo", integration=integration)
    apigwv2.WebSocketStage(stack, "Prod", web_socket_api=ws, stage_name="prod", auto_deploy=True)
    (synthesized,) = app.synth().stacks
    template: dict[str, Any] = synthesized.template
    return template
