"""What the exports routes work with: the job store, the queue and the bucket links are signed for.

Built once per cold start by :func:`get_export_services`; the SQS and S3 clients are created on
first use. Tests hand the resolver their own instance through
``app.dependency_overrides[get_export_services]``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final

import boto3

from fiscal_core.api.documents_services import s3_client
from fiscal_core.container import once_per_container
from fiscal_core.exports.task import ExportQueue, ExportSettings
from fiscal_core.settings import get_settings
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.exports import ExportRepository
from fiscal_core.storage.tables import bind_tables

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LINK_TTL: Final = timedelta(hours=1)


class ExportServices:
    """The exports routes' adapters: jobs, the queue, and the bucket links are signed for."""

    def __init__(
        self,
        *,
        queue: Callable[[], ExportQueue],
        s3: Callable[[], S3Client],
        bucket: str,
        jobs: ExportRepository | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._queue_factory = queue
        self._s3_factory = s3
        self.bucket = bucket
        self.jobs = jobs or ExportRepository()
        self.clock = clock

    @cached_property
    def queue(self) -> ExportQueue:
        """The export queue."""
        return self._queue_factory()

    @cached_property
    def s3(self) -> S3Client:
        """An S3 client that signs with SigV4, as SSE-KMS objects require."""
        return self._s3_factory()


@once_per_container
def get_export_services() -> ExportServices:
    """The process's export services: settings read once; clients made on first use."""
    settings, exports = get_settings(), ExportSettings.from_environ()
    bind_tables(settings.table_prefix)
    return ExportServices(
        queue=lambda: ExportQueue(boto3.client("sqs", region_name=settings.region), exports.queue_url),
        s3=lambda: s3_client(settings.region),
        bucket=settings.exports_bucket,
    )
