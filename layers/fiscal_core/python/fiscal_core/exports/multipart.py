"""The ZIP's way into S3: a multipart upload fed as a byte stream, one bounded buffer at a time.

Bytes accumulate in a buffer; each time it holds ``part_size`` bytes, that much goes up as the
next part. Memory is the buffer, whatever the archive's size. The upload id, the parts done
(number, ETag, size) and the buffer's unsent tail are all it takes to go on in another process:
parts already uploaded stay in S3 until the upload is completed or aborted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, cast

from fiscal_core.exports.errors import ExportTooLarge, s3_call

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIN_PART_SIZE: Final = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE: Final = 8 * 1024 * 1024  # 10,000 parts of it: a ZIP of up to 78 GiB
MAX_PARTS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Part:
    """An uploaded part."""

    number: int
    etag: str
    size: int


class MultipartUpload:
    """Appends bytes to the multipart upload ``upload_id`` of ``bucket/key``."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        parts: Sequence[Part] = (),
        tail: bytes = b"",
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self._client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self._part_size = part_size
        self.parts: list[Part] = list(parts)
        self._uploaded = sum(p.size for p in self.parts)
        self._buffer = bytearray(tail)

    @classmethod
    def start(
        cls, client: S3Client, bucket: str, key: str, *, part_size: int = DEFAULT_PART_SIZE
    ) -> MultipartUpload:
        """Open a new multipart upload of ``bucket/key``."""
        with s3_call("start the export's upload"):
            answer = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/zip")
        return cls(client, bucket, key, answer["UploadId"], part_size=part_size)

    @property
    def offset(self) -> int:
        """Bytes written so far: uploaded parts plus the buffered tail."""
        return self._uploaded + len(self._buffer)

    @property
    def tail(self) -> bytes:
        """The bytes written but not uploaded yet (fewer than one part)."""
        return bytes(self._buffer)

    def write(self, data: bytes) -> None:
        """Append ``data``, uploading every full part as soon as it is complete."""
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            # The full buffer becomes the part and the overflow a new buffer: no second copy
            # of a whole part is ever held.
            part, self._buffer = self._buffer, self._buffer[self._part_size :]
            del part[self._part_size :]
            self._upload(part)

    def complete(self) -> int:
        """Upload the tail as the last part and assemble the object; returns its size."""
        if self._buffer or not self.parts:
            self._upload(bytes(self._buffer))
            self._buffer.clear()
        with s3_call("complete the export's upload"):
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in self.parts]},
            )
        return self._uploaded

    def abort(self) -> None:
        """Discard the upload and every part of it."""
        abort_upload(self._client, self.bucket, self.key, self.upload_id)

    def _upload(self, data: bytes | bytearray) -> None:
        number = len(self.parts) + 1
        if number > MAX_PARTS:
            raise ExportTooLarge(
                f"the ZIP passed {MAX_PARTS} parts of {self._part_size} bytes; export a shorter period"
            )
        with s3_call(f"upload part {number} of the export"):
            answer = self._client.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number,
                Body=cast(bytes, data),  # botocore sends any bytes-like body; the stubs say bytes
            )  # fmt: skip
        self.parts.append(Part(number, answer["ETag"], len(data)))
        self._uploaded += len(data)


def abort_upload(client: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Abort one upload; an upload already gone (completed or aborted) is not an error."""
    with s3_call("abort the export's upload"):
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except client.exceptions.NoSuchUpload:
            return


def abort_other_uploads(client: S3Client, bucket: str, key: str, keep: str | None = None) -> int:
    """Abort every unfinished upload of ``key`` but ``keep``: leftovers of a worker that died.

    Returns how many were aborted. The bucket's lifecycle rule would drop them after a day; doing
    it at once stops paying for their parts and keeps the listing clean.
    """
    aborted = 0
    with s3_call("list the export's unfinished uploads"):
        pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key)
        stale = [
            upload["UploadId"]
            for page in pages
            for upload in page.get("Uploads", [])
            if upload.get("Key") == key and upload.get("UploadId") != keep
        ]
    for upload_id in stale:
        abort_upload(client, bucket, key, upload_id)
        aborted += 1
    return aborted
