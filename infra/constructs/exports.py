"""ExportsConstruct: the export queue and its dead letters, the export worker, its alarms and grants.

The API queues one message per export; the worker takes them one at a time (batch size 1: an
export can run for the whole 15 minutes) and reports a failed message back to SQS instead of
failing the batch. A message is received at most MAX_RECEIVES times before it goes to the
dead-letter queue, whose alarm pages whoever owns the alarms; the worker marks the job FAILED on
the last attempt itself. The ZIPs live in the exports bucket of the data construct, whose
lifecycle rule deletes them after a week and aborts unfinished uploads after a day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from fiscal_core.exports.task import DEFAULT_MAX_RECEIVES, ENV_MAX_RECEIVES, ENV_QUEUE_URL
from fiscal_core.storage.tables import table_specs
from infra.constructs.data import DataConstruct
from infra.constructs.function import FiscalFunction
from infra.constructs.grants import acknowledge_objects
from infra.stage import Stage

WORKER_TIMEOUT: Final = Duration.minutes(15)  # Lambda's maximum; longer exports continue anew
WORKER_MEMORY_MB: Final = 1024  # also buys CPU for deflate; the worker's own use stays far below
# AWS's guidance for SQS event sources: at least six times the function's timeout.
VISIBILITY_TIMEOUT: Final = Duration.seconds(6 * WORKER_TIMEOUT.to_seconds())
MAX_RECEIVES: Final = DEFAULT_MAX_RECEIVES
RETENTION: Final = Duration.days(4)
DEAD_LETTER_RETENTION: Final = Duration.days(14)
# No message should wait this long: a worker is always free for a queue of batch size 1.
OLDEST_MESSAGE_ALARM: Final = Duration.hours(2)
# Table → what the worker does with it. Powertools' idempotency records live in IdempotencyKeys.
WORKER_TABLE_ACTIONS: Final[Mapping[str, Sequence[str]]] = {
    "ExportJobs": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "IdempotencyKeys": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "Documents": ("dynamodb:Query",),  # the selection and its COUNT, on the filter's index
    "DocumentEvents": ("dynamodb:Query",),
    "Companies": ("dynamodb:GetItem",),
}
# The API records jobs and their idempotency markers in one transaction and pages the list.
API_TABLE_ACTIONS: Final[Mapping[str, Sequence[str]]] = {
    "ExportJobs": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"),
    "IdempotencyKeys": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"),
}
# The ZIP by multipart upload, the checkpoint objects beside it (written, read, deleted).
EXPORT_OBJECT_ACTIONS: Final = ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
EXPORT_BUCKET_ACTIONS: Final = ("s3:ListBucket", "s3:ListBucketMultipartUploads")


class ExportsConstruct(Construct):
    """The queue, its dead-letter queue, the worker and its alarms; :meth:`connect_api` for the API."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        data: DataConstruct,
    ) -> None:
        super().__init__(scope, construct_id)
        self._data = data
        self.dead_letters = sqs.Queue(
            self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION, removal_policy=stage.removal_policy,
        )  # fmt: skip
        Validations.of(self.dead_letters).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This is the export queue's dead-letter queue; its own failures have nowhere "
                "further to go, and its alarm tells operators to look.",
            )
        )
        self.queue = sqs.Queue(
            self, "Queue",
            # Messages hold two ids and a number; SQS-managed encryption needs no key grants.
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT, retention_period=RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES, queue=self.dead_letters),
            removal_policy=stage.removal_policy,
        )  # fmt: skip
        self.worker = FiscalFunction(
            self, "Worker", name="export_worker",
            description="FiscalMix exports: streams the selected XMLs into a ZIP on S3",
            stage=stage, layer=layer, memory_size=WORKER_MEMORY_MB, timeout=WORKER_TIMEOUT,
            environment={
                **environment, ENV_QUEUE_URL: self.queue.queue_url, ENV_MAX_RECEIVES: str(MAX_RECEIVES),
            },
        )  # fmt: skip
        self.worker.function.add_event_source(
            SqsEventSource(self.queue, batch_size=1, report_batch_item_failures=True)
        )
        self._grant_worker()
        self.alarms = self._alarms()

    def connect_api(self, api: FiscalFunction) -> None:
        """Let the API function queue exports, record their jobs and sign links to their ZIPs."""
        api.function.add_environment(ENV_QUEUE_URL, self.queue.queue_url)
        self.queue.grant_send_messages(api.role)
        self._grant_tables(api.role, API_TABLE_ACTIONS)
        api.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self._data.exports_bucket.arn_for_objects("*")]
            )
        )
        # A presigned GET of an SSE-KMS object is signed by this role: it must be able to decrypt.
        self._data.key.grant(api.role, "kms:Decrypt")
        self._acknowledge_objects(
            api.role, [self._data.exports_bucket], "The API signs download links to ZIPs under {account}/"
        )

    def _grant_worker(self) -> None:
        role, data = self.worker.role, self._data
        self._grant_tables(role, WORKER_TABLE_ACTIONS)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[data.documents_bucket.arn_for_objects("*")]
            )
        )
        exports = data.exports_bucket
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(EXPORT_OBJECT_ACTIONS), resources=[exports.arn_for_objects("*")])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(EXPORT_BUCKET_ACTIONS), resources=[exports.bucket_arn])
        )
        # Both buckets are SSE-KMS: Decrypt to read XMLs and checkpoints, a data key per ZIP part.
        data.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        # A long export queues its own continuation.
        self.queue.grant_send_messages(role)
        self._acknowledge_objects(
            role, [data.documents_bucket, exports], "The worker reads XMLs and writes ZIPs under {account}/"
        )

    def _grant_tables(self, role: iam.IRole, access: Mapping[str, Sequence[str]]) -> None:
        """Statements naming each table, and each of its indexes where it is queried, never ``index/*``."""
        specs = {spec.logical_name: spec for spec in table_specs()}
        for name, actions in access.items():
            arn = self._data.tables[name].table_arn
            indexes = specs[name].indexes if "dynamodb:Query" in actions else ()
            resources = [arn, *(f"{arn}/index/{index.name}" for index in indexes)]
            role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=resources))

    def _acknowledge_objects(self, role: iam.IRole, buckets: Sequence[s3.IBucket], what: str) -> None:
        for bucket in buckets:
            acknowledge_objects(
                role,
                bucket,
                "*",
                f"{what}: object keys begin with the account id, known only at run time; "
                "the actions are named one by one, on that bucket's objects alone.",
            )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        period = Duration.minutes(5)
        return [
            self._alarm(
                "DeadLettersAlarm",
                self.dead_letters.metric_approximate_number_of_messages_visible(period=period),
                "An export failed every attempt; its job says why (status FAILED).",
                1,
            ),
            self._alarm(
                "QueueAgeAlarm",
                self.queue.metric_approximate_age_of_oldest_message(period=period),
                "Exports wait in the queue: the worker is not taking them.",
                OLDEST_MESSAGE_ALARM.to_seconds(),
            ),
            self._alarm(
                "WorkerErrorsAlarm",
                self.worker.function.metric_errors(period=Duration.minutes(15), statistic="Sum"),
                "Export worker invocations crash or time out (failed records are reported, not raised).",
                3,
            ),
        ]

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float
    ) -> cloudwatch.Alarm:
        # Left without actions: whoever owns paging subscribes them, as for the sync's alarms.
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
