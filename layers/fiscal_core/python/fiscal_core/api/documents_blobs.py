"""The documents bucket as the API reads it: bounded reads, existence, short-lived links.

Writes go through the sync's :class:`~fiscal_core.sync.objects.ObjectStore`, so an imported XML
is stored exactly as a synced one (key, checksum, metadata). A document's rendered PDF sits next
to its XML as ``.pdf``. The bucket's default encryption (KMS) applies to every object, so
nothing here names a key. Links are presigned GETs that expire in five minutes: long enough to
start a download, short enough that a link pasted into a ticket or a chat is dead by the time
someone else reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from fiscal_core.api.problems import DependencyUnavailable
from fiscal_core.errors import FiscalMixError
from fiscal_core.storage.attributes import utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LINK_TTL: Final = timedelta(minutes=5)
XML_CONTENT_TYPE: Final = "application/xml"
PDF_CONTENT_TYPE: Final = "application/pdf"
_NOT_FOUND_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})


class BodyMissing(FiscalMixError):
    """A record points at an object the bucket does not hold: an integrity fault, logged as such."""


@dataclass(frozen=True, slots=True)
class Link:
    """A presigned GET link and when it stops working."""

    url: str
    expires_at: datetime


def pdf_key(xml_object_key: str) -> str:
    """The rendered PDF's key, next to the XML it was rendered from."""
    stem = xml_object_key.removesuffix(".xml")
    return f"{stem}.pdf"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as the records store it."""
    return hashlib.sha256(data).hexdigest()


class DocumentBlobs:
    """Reads and presigned links on the documents bucket (moto locally and in tests)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        link_ttl: timedelta = LINK_TTL,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._ttl = link_ttl
        self._clock = clock

    def exists(self, key: str) -> bool:
        """True when an object is stored under ``key``."""
        with _s3_call("look for a document body"):
            try:
                self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _is_not_found(exc):
                    return False
                raise
        return True

    def read(self, key: str, max_bytes: int) -> bytes:
        """The object's bytes, at most ``max_bytes`` (BodyMissing if absent, a record's fault)."""
        with _s3_call("read a document body"):
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _is_not_found(exc):
                    raise BodyMissing(f"s3://{self._bucket}/{key} is missing") from exc
                raise
            body = response["Body"]
            try:
                data = body.read(max_bytes + 1)
            finally:
                body.close()
        if len(data) > max_bytes:
            raise BodyMissing(f"s3://{self._bucket}/{key} is larger than {max_bytes} bytes")
        return data

    def link(self, key: str, filename: str, content_type: str, *, inline: bool = False) -> Link:
        """A presigned GET that names the file for the browser (download, or show if ``inline``)."""
        disposition = "inline" if inline else "attachment"
        expires_at = self._clock() + self._ttl
        with _s3_call("sign a download link"):
            url = self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'{disposition}; filename="{filename}"',
                    "ResponseContentType": content_type,
                },
                ExpiresIn=int(self._ttl.total_seconds()),
            )
        return Link(url, expires_at)


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND_CODES


@contextmanager
def _s3_call(action: str) -> Iterator[None]:
    """SDK failures become DependencyUnavailable (a 503); the domain's own errors pass through."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailable(f"could not {action}: {exc}") from exc
