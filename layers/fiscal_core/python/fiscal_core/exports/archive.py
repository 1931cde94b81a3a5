"""A ZIP archive written as a stream into a byte sink, resumable from (offset, directory so far).

Each entry goes through a one-entry zipstream-ng stream: zipstream-ng writes the local header,
the deflated data and the data descriptor, and reports the CRC and sizes it measured. The
archive keeps the entry's central directory record in a spool (memory up to a small size, then
a temporary file), which is the only state per entry; the footer is written at the end from the
spools of every invocation, oldest first (see :mod:`fiscal_core.exports.zipformat`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final, Protocol

from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream  # type: ignore[import-untyped]

from fiscal_core.exports.zipformat import DEFLATED, STORED, EntryRecord, central_record, end_records

# zlib's default level: about as small as 9 for XML at two to three times the speed.
DEFLATE_LEVEL: Final = 6
# Central directory records stay in memory up to this size, then spill to /tmp.
SPOOL_MEMORY_BYTES: Final = 1 << 20
COPY_CHUNK: Final = 1 << 16


class ByteSink(Protocol):
    """Where the archive's bytes go (a multipart upload); ``offset`` is how many it has taken."""

    @property
    def offset(self) -> int:
        """Bytes written so far, from the start of the archive."""
        ...

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        ...


def new_spool() -> IO[bytes]:
    """A byte buffer that moves to a temporary file once it grows past SPOOL_MEMORY_BYTES."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)


def read_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """``file`` from its start, in chunks."""
    file.seek(0)
    while chunk := file.read(COPY_CHUNK):
        yield chunk


class ArchiveWriter:
    """Appends entries to an archive that already holds ``entries`` entries (0 for a new one).

    ``directory`` receives this invocation's central directory records; the records of earlier
    invocations are handed to :meth:`finish` as chunks.
    """

    def __init__(self, sink: ByteSink, *, entries: int = 0, directory_bytes: int = 0) -> None:
        self._sink = sink
        self.entries = entries
        self.directory_bytes = directory_bytes
        self.directory: IO[bytes] = new_spool()

    def add(self, name: str, chunks: Iterable[bytes], size: int, *, compress: bool = True) -> int:
        """Write one entry of ``size`` bytes from ``chunks``; returns its compressed size.

        Giving the size keeps the local header small: zipstream-ng uses ZIP64 fields only when
        the size could need them, not for every stream of unknown length.
        """
        offset = self._sink.offset
        stream: Any = ZipStream(
            compress_type=ZIP_DEFLATED if compress else ZIP_STORED,
            compress_level=DEFLATE_LEVEL if compress else None,
        )
        stream.add(chunks, name, size=size)
        for data in stream.all_files():
            self._sink.write(data)
        (info,) = stream.info_list()
        record = central_record(
            EntryRecord(
                name=info["name"],
                offset=offset,
                crc=info["CRC"],
                compressed_size=info["compressed_size"],
                size=info["size"],
                date_time=tuple(info["datetime"]),
                method=DEFLATED if compress else STORED,
            )
        )
        self.directory.write(record)
        self.entries += 1
        self.directory_bytes += len(record)
        return int(info["compressed_size"])

    def finish(self, earlier_directories: Iterable[bytes] = ()) -> None:
        """Write the central directory (earlier invocations' records, then these) and the end records."""
        start = self._sink.offset
        for chunk in earlier_directories:
            self._sink.write(chunk)
        for chunk in read_chunks(self.directory):
            self._sink.write(chunk)
        written = self._sink.offset - start
        if written != self.directory_bytes:
            raise RuntimeError(f"central directory is {written} bytes, expected {self.directory_bytes}")
        self._sink.write(end_records(self.entries, start, written))

    def close(self) -> None:
        """Drop this invocation's spool."""
        self.directory.close()
