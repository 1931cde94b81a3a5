"""Runtime settings and resource names, shared by the functions, the CDK app and the local plane.

A function reads its settings once per cold start with :func:`get_settings`. The CDK app (infra/)
and the local AWS plane (local/) name resources with :class:`ResourceNames` and hand them to the
functions with :func:`resource_environment`, so the three agree on every name and variable.
Nothing here reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import AliasChoices, ConfigDict, Field

from fiscal_core.container import once_per_container
from fiscal_core.model import Model

PRODUCT: Final = "fiscalmix"
METRICS_NAMESPACE: Final = "FiscalMix"

ENV_STAGE: Final = "FISCALMIX_STAGE"
ENV_TABLE_PREFIX: Final = "FISCALMIX_TABLE_PREFIX"
ENV_DOCUMENTS_BUCKET: Final = "FISCALMIX_DOCUMENTS_BUCKET"
ENV_EXPORTS_BUCKET: Final = "FISCALMIX_EXPORTS_BUCKET"
ENV_KMS_KEY_ID: Final = "FISCALMIX_KMS_KEY_ID"
ENV_ENDPOINT_URL: Final = "AWS_ENDPOINT_URL"
ENV_LOG_LEVEL: Final = "LOG_LEVEL"
# The DF-e sync: where SEFAZ and the ADN are, which roots vouch for them, and the sync's pacing.
ENV_SEFAZ_ENVIRONMENT: Final = "FISCALMIX_SEFAZ_ENVIRONMENT"
ENV_SEFAZ_BASE_URL: Final = "FISCALMIX_SEFAZ_BASE_URL"
ENV_SEFAZ_CA_FILE: Final = "FISCALMIX_SEFAZ_CA_FILE"
ENV_SEFAZ_CA_PEM: Final = "FISCALMIX_SEFAZ_CA_PEM"
ENV_SYNC_STATE_MACHINE_ARN: Final = "FISCALMIX_SYNC_STATE_MACHINE_ARN"
ENV_SYNC_EXECUTION_PAGE_LIMIT: Final = "FISCALMIX_SYNC_EXECUTION_PAGE_LIMIT"
ENV_SYNC_PAGE_PAUSE_SECONDS: Final = "FISCALMIX_SYNC_PAGE_PAUSE_SECONDS"
ENV_SYNC_WAIT_MARGIN_SECONDS: Final = "FISCALMIX_SYNC_WAIT_MARGIN_SECONDS"
ENV_SYNC_LEASE_SECONDS: Final = "FISCALMIX_SYNC_LEASE_SECONDS"
ENV_SYNC_PAUSED_RETRY_SECONDS: Final = "FISCALMIX_SYNC_PAUSED_RETRY_SECONDS"
ENV_SYNC_FULL_XML_FALLBACK_HOURS: Final = "FISCALMIX_SYNC_FULL_XML_FALLBACK_HOURS"
ENV_SYNC_STORE_THREADS: Final = "FISCALMIX_SYNC_STORE_THREADS"
ENV_SYNC_AGENT_TIMEOUT_SECONDS: Final = "FISCALMIX_SYNC_AGENT_TIMEOUT_SECONDS"

SefazEnvironmentName = Literal["production", "homologation", "local"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass(frozen=True, slots=True)
class ResourceNames:
    """The physical names of one stage's resources in one account and region.

    ``account`` and ``region`` may be CDK tokens: the names are plain f-strings, which CDK turns
    into ``Fn::Join`` when it synthesizes.
    """

    stage: str
    account: str
    region: str

    @property
    def table_prefix(self) -> str:
        """The prefix of every DynamoDB table of the stage (see ``physical_table_name``)."""
        return f"{PRODUCT}-{self.stage}"

    @property
    def documents_bucket(self) -> str:
        """The bucket of the fiscal XML bodies and their renderings."""
        return self._bucket("documents")

    @property
    def exports_bucket(self) -> str:
        """The bucket of export ZIPs, handed out through short-lived presigned links."""
        return self._bucket("exports")

    @property
    def access_logs_bucket(self) -> str:
        """The bucket that receives the other buckets' server access logs."""
        return self._bucket("access-logs")

    @property
    def kms_alias(self) -> str:
        """The alias of the key that encrypts certificate envelopes and the buckets."""
        return f"alias/{PRODUCT}-{self.stage}"

    def _bucket(self, purpose: str) -> str:
        # Bucket names are global across AWS: account and region keep stages and regions apart.
        return f"{PRODUCT}-{self.stage}-{purpose}-{self.account}-{self.region}"


def resource_environment(
    *,
    stage: str,
    table_prefix: str,
    documents_bucket: str,
    exports_bucket: str,
    kms_key_id: str,
) -> dict[str, str]:
    """The environment variables that tell a function where its stage's resources are."""
    return {
        ENV_STAGE: stage,
        ENV_TABLE_PREFIX: table_prefix,
        ENV_DOCUMENTS_BUCKET: documents_bucket,
        ENV_EXPORTS_BUCKET: exports_bucket,
        ENV_KMS_KEY_ID: kms_key_id,
    }


class Settings(Model):
    """What a function needs to know about its environment, validated once at cold start."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: str = Field(default="dev", validation_alias=ENV_STAGE, min_length=1)
    table_prefix: str = Field(validation_alias=ENV_TABLE_PREFIX, min_length=1)
    documents_bucket: str = Field(validation_alias=ENV_DOCUMENTS_BUCKET, min_length=3)
    exports_bucket: str = Field(validation_alias=ENV_EXPORTS_BUCKET, min_length=3)
    kms_key_id: str = Field(
        validation_alias=ENV_KMS_KEY_ID,
        min_length=1,
        description="Key id, key ARN or alias name of the KMS key for certificate envelopes.",
    )
    # Lambda sets AWS_REGION; AWS_DEFAULT_REGION is what local tools and the CLI usually set.
    region: str = Field(validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"), min_length=1)
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias=ENV_ENDPOINT_URL,
        description="Set only in local mode, where moto stands in for every AWS service.",
    )
    log_level: LogLevel = Field(default="INFO", validation_alias=ENV_LOG_LEVEL)
    # The DF-e sync (functions/sync_worker); other functions ignore these.
    sefaz_environment: SefazEnvironmentName = Field(
        default="homologation",
        validation_alias=ENV_SEFAZ_ENVIRONMENT,
        description="Which SEFAZ/ADN endpoints the sync calls; 'local' is the simulator at sefaz_base_url.",
    )
    sefaz_base_url: str | None = Field(
        default=None,
        validation_alias=ENV_SEFAZ_BASE_URL,
        description="https://host:port of the SEFAZ simulator; required when sefaz_environment is local.",
    )
    sefaz_ca_file: str | None = Field(
        default=None,
        validation_alias=ENV_SEFAZ_CA_FILE,
        description="PEM bundle of the roots that vouch for SEFAZ's and the ADN's servers.",
    )
    sefaz_ca_pem: str | None = Field(
        default=None, validation_alias=ENV_SEFAZ_CA_PEM, description="The same bundle as PEM text."
    )
    sync_state_machine_arn: str | None = Field(
        default=None,
        validation_alias=ENV_SYNC_STATE_MACHINE_ARN,
        description="The sync workflow the scheduled fan-out starts executions of.",
    )
    # Step Functions Standard keeps 25,000 history events per execution; a page costs about ten.
    sync_execution_page_limit: int = Field(default=1000, ge=1, validation_alias=ENV_SYNC_EXECUTION_PAGE_LIMIT)
    # sped-nfe sleeps about 2 s between distNSU pages; 0 fetches the next page at once.
    sync_page_pause_seconds: int = Field(default=2, ge=0, validation_alias=ENV_SYNC_PAGE_PAUSE_SECONDS)
    # Added to every wait SEFAZ imposes, so clock skew never makes the next call an early one.
    sync_wait_margin_seconds: int = Field(default=300, ge=0, validation_alias=ENV_SYNC_WAIT_MARGIN_SECONDS)
    sync_lease_seconds: int = Field(default=600, ge=60, validation_alias=ENV_SYNC_LEASE_SECONDS)
    sync_paused_retry_seconds: int = Field(
        default=1800, ge=60, validation_alias=ENV_SYNC_PAUSED_RETRY_SECONDS
    )
    sync_full_xml_fallback_hours: float = Field(
        default=6.0, gt=0, validation_alias=ENV_SYNC_FULL_XML_FALLBACK_HOURS
    )
    sync_store_threads: int = Field(default=8, ge=1, le=64, validation_alias=ENV_SYNC_STORE_THREADS)
    # How long an A3 step waits for its agent's answer; inside the lease, which is not renewed meanwhile.
    sync_agent_timeout_seconds: int = Field(
        default=300, ge=1, le=540, validation_alias=ENV_SYNC_AGENT_TIMEOUT_SECONDS
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Validate settings from an environment mapping; raises ``pydantic.ValidationError``."""
        return cls.model_validate(dict(environ))


@once_per_container
def get_settings() -> Settings:
    """The process's settings, read from ``os.environ`` on first use and cached for its lifetime.

    Tests that change the environment call ``get_settings.cache_clear()``.
    """
    return Settings.from_environ(os.environ)
