"""FiscalFunction: a Lambda function with the conventions every FiscalMix function follows."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from fiscal_core.settings import METRICS_NAMESPACE, LogLevel
from infra.bundling import PLATFORM, function_code
from infra.stage import Stage


class FiscalFunction(Construct):
    """The function at ``functions/<name>/handler.py`` with its own role and log group.

    ``handler`` names another entry point of the same folder (``fanout.lambda_handler``), for a
    domain whose functions share their code, as the sync worker and its schedule fan-out do.

    Conventions: the platform of :data:`infra.bundling.PLATFORM`, the fiscal_core layer,
    Powertools' service name, metrics namespace and log level in the environment, active X-Ray
    tracing, and a role that starts with nothing but writing to its own log group. Callers grant
    it what it uses (``table.grant_read_data(fn.function)``), so each role stays least-privilege.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        stage: Stage,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        memory_size: int = 256,
        timeout: Duration | None = None,
        reserved_concurrency: int | None = None,
        log_level: LogLevel = "INFO",
        handler: str = "handler.lambda_handler",
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"FiscalMix {stage.name} {name} function",
        )
        # An explicit log group, rather than the implicit /aws/lambda/<name>, so retention and
        # removal are part of the stack and the role can write to this group alone.
        self.log_group = logs.LogGroup(
            self, "Logs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=PLATFORM.runtime,
            architecture=PLATFORM.architecture,
            code=function_code(name),
            handler=f"functions.{name}.{handler}",
            layers=[layer],
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": log_level,
            },
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions, so active tracing needs Resource '*' for those two actions only.",
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="The runtime is pinned with the layer's wheels in infra.bundling.PLATFORM "
                "(pip --python-version); moving to a newer Python is a deliberate change of both.",
            )
        )
