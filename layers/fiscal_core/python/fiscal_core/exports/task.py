"""The export queue: its settings, its message, and the one adapter that sends to it.

A message names an export and the segment (invocation) it starts: 0 from the API, 1, 2, ...
from a worker that checkpointed and handed over. The worker reads everything else from the job
and the checkpoint, so a message is tiny and safe to deliver twice.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ConfigDict, Field

from fiscal_core.exports.errors import QueueUnavailable
from fiscal_core.exports.multipart import DEFAULT_PART_SIZE, MIN_PART_SIZE
from fiscal_core.model import Model

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

ENV_QUEUE_URL: Final = "FISCALMIX_EXPORTS_QUEUE_URL"
ENV_MAX_RECEIVES: Final = "FISCALMIX_EXPORTS_MAX_RECEIVES"
ENV_PART_SIZE: Final = "FISCALMIX_EXPORTS_PART_SIZE"
ENV_DOWNLOAD_THREADS: Final = "FISCALMIX_EXPORTS_DOWNLOAD_THREADS"
DEFAULT_MAX_RECEIVES: Final = 3


class ExportSettings(Model):
    """What the export functions read from their environment, besides ``fiscal_core.settings``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    queue_url: str = Field(validation_alias=ENV_QUEUE_URL, min_length=1)
    max_receives: int = Field(default=DEFAULT_MAX_RECEIVES, ge=1, validation_alias=ENV_MAX_RECEIVES)
    part_size: int = Field(default=DEFAULT_PART_SIZE, ge=MIN_PART_SIZE, validation_alias=ENV_PART_SIZE)
    download_threads: int = Field(default=16, ge=1, le=64, validation_alias=ENV_DOWNLOAD_THREADS)

    @classmethod
    def from_environ(cls) -> ExportSettings:
        """Validated from ``os.environ``; called once per cold start."""
        return cls.model_validate(dict(os.environ))


class ExportTask(Model):
    """One message of the export queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str = Field(min_length=1, max_length=64)
    export_id: str = Field(min_length=1, max_length=64)
    segment: int = Field(default=0, ge=0)


class ExportQueue:
    """Sends tasks to the export queue."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, task: ExportTask) -> None:
        """Queue ``task``; QueueUnavailable if SQS refuses it."""
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=task.model_dump_json())
        except (ClientError, BotoCoreError) as exc:
            raise QueueUnavailable(f"could not queue export {task.export_id}: {exc}") from exc
