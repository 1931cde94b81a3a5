"""What the documents routes work with: the repository, the bucket (read and write), the renderer.

Built once per cold start by :func:`get_document_services`; the S3 client is created on first
use, so a list or a detail request never pays for it. XML and PDF writes go through the sync's
:class:`~fiscal_core.sync.objects.ObjectStore`, so an imported document is stored exactly as a
synced one; it is imported on the first write, as a cold start for reading does not need the
sync's modules. Tests hand the resolver their own instance through
``app.dependency_overrides[get_document_services]``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from fiscal_core.api.documents_blobs import DocumentBlobs
from fiscal_core.api.pdf import render_pdf
from fiscal_core.container import once_per_container
from fiscal_core.settings import get_settings
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import DocType
from fiscal_core.storage.tables import bind_tables

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from fiscal_core.sync.objects import ObjectStore

Renderer = Callable[[DocType, bytes], bytes]
# An import's XML puts overlap: S3 latency, not CPU, bounds a batch (as in the sync's pages).
PUT_WORKERS: Final = 8


class DocumentServices:
    """The documents resource's adapters; the bucket's are built on first use."""

    def __init__(
        self,
        *,
        s3: Callable[[], S3Client],
        bucket: str,
        repository: DocumentRepository | None = None,
        renderer: Renderer = render_pdf,
    ) -> None:
        self._s3_factory = s3
        self._bucket = bucket
        self.repository = repository or DocumentRepository()
        self.render = renderer

    @cached_property
    def blobs(self) -> DocumentBlobs:
        """Reads and download links."""
        return DocumentBlobs(self._s3, self._bucket)

    @cached_property
    def objects(self) -> ObjectStore:
        """Writes, as the sync makes them."""
        from fiscal_core.sync.objects import ObjectStore

        return ObjectStore(self._s3, self._bucket, ThreadPoolExecutor(PUT_WORKERS, "document-put"))

    @cached_property
    def _s3(self) -> S3Client:
        return self._s3_factory()


def s3_client(region: str) -> S3Client:
    """An S3 client whose presigned links use Signature V4, which KMS-encrypted objects require."""
    return boto3.client("s3", region_name=region, config=Config(signature_version="s3v4"))


@once_per_container
def get_document_services() -> DocumentServices:
    """The process's document services: settings read and tables bound once per cold start."""
    settings = get_settings()
    bind_tables(settings.table_prefix)  # idempotent: the API's other services bind the same
    return DocumentServices(s3=lambda: s3_client(settings.region), bucket=settings.documents_bucket)
