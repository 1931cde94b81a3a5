"""The state an export carries from one invocation to the next, kept in the exports bucket.

A ZIP stream's state is its byte offset and the central directory records written so far; the
multipart upload's is its id, the parts done and the bytes not yet sent; the selection's is a
Query cursor and how many items of that page are done; the spreadsheet's is its rows. The
small values go in ``checkpoint.json``; the byte strings go beside it, one object per segment
(invocation) that wrote them, never rewritten:

    <account>/<export>/work/checkpoint.json
    <account>/<export>/work/0000.directory   central directory records written by segment 0
    <account>/<export>/work/0000.rows        spreadsheet rows (CSV) written by segment 0
    <account>/<export>/work/0001.tail        ZIP bytes not yet uploaded when segment 1 begins

``checkpoint.json`` is written last, by one PUT: S3 replaces an object atomically, so a reader
sees the previous checkpoint or the new one, and every object either names already exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Final, Literal

from pydantic import ConfigDict, Field

from fiscal_core.exports.archive import COPY_CHUNK
from fiscal_core.exports.errors import ObjectMissing, s3_call
from fiscal_core.exports.multipart import Part
from fiscal_core.model import Model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHECKPOINT_NAME: Final = "checkpoint.json"


class PartRecord(Model):
    """An uploaded part of the ZIP."""

    model_config = ConfigDict(frozen=True)

    number: int
    etag: str
    size: int


class Checkpoint(Model):
    """Where an export stands: saved between invocations, ``segment`` is the one to run next.

    A running session holds one too, with ``segment`` its own; :meth:`CheckpointStore.save`
    is given the copy whose segment is the next.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    segment: int = Field(ge=0)
    total: int | None = None  # None while the selection is still being counted (never when saved)
    upload_id: str
    parts: list[PartRecord] = Field(default=[])
    entries: int = 0  # central directory records so far
    directory_bytes: int = 0
    rows: int = 0
    rows_bytes: int = 0
    cursor: str | None = None  # the Query page the selection resumes at
    skip: int = 0  # documents of that page already in the ZIP
    reading_done: bool = False  # every document is in: only the spreadsheets and footer are left
    processed: int = 0
    failed: int = 0
    events: int = 0
    pdfs: int = 0
    errors: list[str] = Field(default=[])  # the first ones
    problems: int = 0  # how many there were

    @property
    def segments(self) -> range:
        """The segments before this one: each stored its directory and rows objects."""
        return range(self.segment)

    def upload_parts(self) -> list[Part]:
        """The parts as the upload takes them."""
        return [Part(p.number, p.etag, p.size) for p in self.parts]


class CheckpointStore:
    """Reads and writes one export's checkpoint and its byte objects under ``prefix``."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def load(self) -> Checkpoint | None:
        """The last checkpoint, or None if the export never wrote one."""
        try:
            with s3_call("read the export's checkpoint"):
                body = self._client.get_object(Bucket=self._bucket, Key=self._key(CHECKPOINT_NAME))["Body"]
                raw = body.read()
        except ObjectMissing:
            return None
        return Checkpoint.model_validate_json(raw)

    def save(self, checkpoint: Checkpoint, *, directory: IO[bytes], rows: IO[bytes], tail: bytes) -> None:
        """Store the finished segment's records and rows, the tail, then the checkpoint itself."""
        finished = checkpoint.segment - 1
        for suffix, file in (("directory", directory), ("rows", rows)):
            file.seek(0)
            # One PUT streams the file (up to 5 GB); boto3's managed upload would close it.
            with s3_call(f"store the export's {suffix}"):
                self._client.put_object(
                    Bucket=self._bucket, Key=self._key(f"{finished:04d}.{suffix}"), Body=file
                )
        self._put(f"{checkpoint.segment:04d}.tail", tail)
        self._put(CHECKPOINT_NAME, checkpoint.model_dump_json().encode())

    def tail(self, segment: int) -> bytes:
        """The ZIP bytes not yet uploaded when ``segment`` began."""
        with s3_call("read the export's pending bytes"):
            return self._client.get_object(Bucket=self._bucket, Key=self._key(f"{segment:04d}.tail"))[
                "Body"
            ].read()

    def chunks(self, segments: range, suffix: Literal["directory", "rows"]) -> Iterator[bytes]:
        """The ``suffix`` objects of ``segments``, in order, as a stream of chunks."""
        for segment in segments:
            with s3_call(f"read the export's {suffix}"):
                body = self._client.get_object(Bucket=self._bucket, Key=self._key(f"{segment:04d}.{suffix}"))[
                    "Body"
                ]
                yield from body.iter_chunks(COPY_CHUNK)

    def clear(self) -> None:
        """Delete the checkpoint and every object beside it."""
        with s3_call("delete the export's checkpoint"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._prefix
            )
            keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
            for start in range(0, len(keys), 1000):
                self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
                )

    def _put(self, name: str, data: bytes) -> None:
        with s3_call(f"store the export's {name}"):
            self._client.put_object(Bucket=self._bucket, Key=self._key(name), Body=data)

    def _key(self, name: str) -> str:
        return f"{self._prefix}{name}"
