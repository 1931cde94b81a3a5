"""FiscalMixStack: one stage of FiscalMix, with cdk-nag's AWS Solutions checks on every synth."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from fiscal_core.settings import ENV_SYNC_STATE_MACHINE_ARN
from infra.bundling import PLATFORM, layer_code
from infra.constructs.api import ApiConstruct
from infra.constructs.bridge import BridgeConstruct
from infra.constructs.data import DataConstruct
from infra.constructs.exports import ExportsConstruct
from infra.constructs.identity import IdentityConstruct
from infra.constructs.sync import SyncConstruct
from infra.stage import Stage


class FiscalMixStack(Stack):
    """The data, the shared layer, the API, the A3 bridge, the DF-e sync and the exports of one stage.

    cdk-nag runs as a validation plugin, so an unacknowledged finding fails ``cdk synth``,
    ``cdk deploy`` and ``Template.from_stack`` alike.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Validations.of(self).add_plugins(AwsSolutionsChecks(self, verbose=True))
        self.data = DataConstruct(self, "Data", stage=stage)
        self.layer = lambda_.LayerVersion(
            self,
            "FiscalCoreLayer",
            code=layer_code(),
            compatible_runtimes=[PLATFORM.runtime],
            compatible_architectures=[PLATFORM.architecture],
            description="fiscal_core and its runtime dependencies",
            removal_policy=stage.removal_policy,
        )
        self.identity = IdentityConstruct(self, "Identity", stage=stage)
        self.api = ApiConstruct(
            self,
            "Api",
            stage=stage,
            layer=self.layer,
            environment=self.data.environment,
            identity=self.identity,
        )
        # The A3 bridge comes before the sync, whose workflow invokes its dispatch task.
        self.bridge = BridgeConstruct(
            self, "Bridge", stage=stage, layer=self.layer, environment=self.data.environment, data=self.data
        )
        self.bridge.connect_api(self.api.handler)
        self.sync = SyncConstruct(
            self, "Sync", stage=stage, layer=self.layer, environment=self.data.environment, data=self.data,
            agent_dispatch=self.bridge.dispatch.function,
        )  # fmt: skip
        # "Sync now" (POST /companies/{id}/sync) starts the workflow from the API.
        self.sync.state_machine.grant_start_execution(self.api.handler.function)
        self.api.handler.function.add_environment(
            ENV_SYNC_STATE_MACHINE_ARN, self.sync.state_machine.state_machine_arn
        )
        self.bridge.grant_task_responses(self.sync.state_machine_arn)
        self.exports = ExportsConstruct(
            self, "Exports", stage=stage, layer=self.layer, environment=self.data.environment, data=self.data
        )
        self.exports.connect_api(self.api.handler)
        CfnOutput(self, "ApiUrl", value=self.api.stage.url)
        CfnOutput(self, "AgentBridgeUrl", value=self.bridge.url)
        CfnOutput(self, "SyncStateMachineArn", value=self.sync.state_machine.state_machine_arn)
        CfnOutput(self, "DocumentsBucketName", value=self.data.documents_bucket.bucket_name)
        CfnOutput(self, "ExportsBucketName", value=self.data.exports_bucket.bucket_name)
        CfnOutput(self, "KeyArn", value=self.data.key.key_arn)
        CfnOutput(self, "UserPoolId", value=self.identity.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.identity.client.user_pool_client_id)
