"""DataConstruct: the DynamoDB tables, the KMS key and the buckets that hold FiscalMix's data."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from fiscal_core.settings import ResourceNames, resource_environment
from fiscal_core.storage.schema import IndexSpec, KeySpec, TableSpec
from fiscal_core.storage.tables import physical_table_name, table_specs
from infra.stage import Stage

# Fiscal documents must be kept for five years; 366-day years cover the leap days.
LEGAL_RETENTION = Duration.days(5 * 366)
COLD_AFTER = Duration.days(90)
EXPORT_LIFETIME = Duration.days(7)
ACCESS_LOG_LIFETIME = Duration.days(365)

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _attribute(key: KeySpec | None) -> dynamodb.Attribute | None:
    return None if key is None else dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


class DataConstruct(Construct):
    """Every table of ``table_specs()``, the stage's KMS key, and the documents and exports buckets.

    Tables are on-demand, point-in-time recoverable and encrypted; in production they are
    deletion-protected and, like the key and the buckets, retained when the stack is deleted.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.names = ResourceNames(stage=stage.name, account=Aws.ACCOUNT_ID, region=Aws.REGION)
        self.key = kms.Key(
            self,
            "Key",
            alias=self.names.kms_alias,
            description=f"FiscalMix {stage.name}: certificate envelopes and bucket encryption",
            enable_key_rotation=True,
            removal_policy=stage.removal_policy,
        )
        self.access_logs_bucket = self._access_logs_bucket()
        self.documents_bucket = self._documents_bucket()
        self.exports_bucket = self._exports_bucket()
        self.tables = {spec.logical_name: self._table(spec) for spec in table_specs()}

    @property
    def environment(self) -> dict[str, str]:
        """The variables that point a function at this stage's tables, buckets and key."""
        return resource_environment(
            stage=self.stage.name,
            table_prefix=self.names.table_prefix,
            documents_bucket=self.documents_bucket.bucket_name,
            exports_bucket=self.exports_bucket.bucket_name,
            kms_key_id=self.key.key_arn,
        )

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{spec.logical_name}Table",
            table_name=physical_table_name(self.names.table_prefix, spec.logical_name),
            partition_key=_attribute(spec.hash_key),
            sort_key=_attribute(spec.range_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=self.stage.production,
            removal_policy=self.stage.removal_policy,
        )
        for index in spec.indexes:
            self._add_index(table, spec, index)
        return table

    @staticmethod
    def _add_index(table: dynamodb.Table, spec: TableSpec, index: IndexSpec) -> None:
        non_key_attributes = list(index.non_key_attributes) or None
        if index.local:
            if index.hash_key != spec.hash_key or index.range_key is None:
                raise ValueError(
                    f"{spec.logical_name}.{index.name}: a local index must use the table's hash key "
                    "and have a range key of its own"
                )
            table.add_local_secondary_index(
                index_name=index.name,
                sort_key=dynamodb.Attribute(
                    name=index.range_key.name, type=_ATTRIBUTE_TYPES[index.range_key.type]
                ),
                projection_type=_PROJECTIONS[index.projection],
                non_key_attributes=non_key_attributes,
            )
            return
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_attribute(index.hash_key),
            sort_key=_attribute(index.range_key),
            projection_type=_PROJECTIONS[index.projection],
            non_key_attributes=non_key_attributes,
        )

    def _bucket(
        self,
        construct_id: str,
        *,
        name: str,
        lifecycle_rules: list[s3.LifecycleRule],
        key: kms.IKey | None,
        access_logs_prefix: str | None,
        versioned: bool = False,
    ) -> s3.Bucket:
        """A private, TLS-only, owner-enforced bucket, retained in production."""
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            # One data key per bucket rather than per object: far fewer (paid) KMS calls.
            bucket_key_enabled=True if key else None,
            versioned=versioned,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket if access_logs_prefix else None,
            server_access_logs_prefix=access_logs_prefix,
            lifecycle_rules=lifecycle_rules,
            removal_policy=self.stage.removal_policy,
        )

    def _access_logs_bucket(self) -> s3.Bucket:
        # cdk-nag's S1 (server access logs) recognises the log destination and leaves it alone.
        return self._bucket(
            "AccessLogsBucket",
            name=self.names.access_logs_bucket,
            # S3 cannot deliver server access logs into a bucket whose default key is SSE-KMS.
            key=None,
            access_logs_prefix=None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=ACCESS_LOG_LIFETIME,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

    def _documents_bucket(self) -> s3.Bucket:
        return self._bucket(
            "DocumentsBucket",
            name=self.names.documents_bucket,
            key=self.key,
            versioned=True,
            access_logs_prefix="documents/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                # XML bodies are read often in their first months, rarely after, and must still
                # open at once: Glacier Instant Retrieval. Objects under 128 KB (most XMLs) are
                # never transitioned by S3's default minimum size, which is cheaper for them.
                s3.LifecycleRule(
                    id="cold-after-90-days",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=COLD_AFTER,
                        )
                    ],
                ),
                # A summary upgraded to the full document overwrites its object; the replaced
                # version is evidence too, so it is kept for the legal period, then dropped.
                s3.LifecycleRule(
                    id="keep-replaced-versions-5-years",
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=COLD_AFTER,
                        )
                    ],
                    noncurrent_version_expiration=LEGAL_RETENTION,
                ),
            ],
        )

    def _exports_bucket(self) -> s3.Bucket:
        return self._bucket(
            "ExportsBucket",
            name=self.names.exports_bucket,
            key=self.key,
            access_logs_prefix="exports/",
            lifecycle_rules=[
                # An export is a copy handed out through a short-lived link; the originals stay
                # in the documents bucket, so the ZIP can go after a week.
                s3.LifecycleRule(
                    id="expire-exports",
                    expiration=EXPORT_LIFETIME,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
