"""The ZIP central directory and end records, written from one compact record per entry.

zipstream-ng writes each entry (local header, deflated data, data descriptor). What a ZIP writer
must remember of an entry until the end is its central directory record; an export that spans
several Lambda invocations keeps those records as the bytes written here, so the state to carry
from one invocation to the next is a byte offset, an entry count and this byte string.

Layouts follow PKWARE's APPNOTE.TXT (4.3.12 central directory header, 4.3.14-4.3.16 ZIP64 end
records, 4.5.3 ZIP64 extra field) with the field values zipstream-ng gives its local headers,
so both halves of every entry agree (tests compare them byte for byte).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

DEFLATED: Final = 8
STORED: Final = 0
# zipfile's and zipstream-ng's thresholds: above them sizes, offsets and counts go to ZIP64 fields.
ZIP64_LIMIT: Final = (1 << 31) - 1
ZIP_FILECOUNT_LIMIT: Final = (1 << 16) - 1
# zipstream-ng switches an entry's local header to ZIP64 when its size times this could pass the limit.
_ZIP64_ESTIMATE_FACTOR: Final = 1.05
_DEFAULT_VERSION: Final = 20
_ZIP64_VERSION: Final = 45
_MADE_ON_UNIX: Final = 3
_FLAG_DATA_DESCRIPTOR: Final = 1 << 3
_FLAG_UTF8: Final = 1 << 11
_REGULAR_FILE_RW: Final = 0o600 << 16  # ?rw------- in the high word, as zipstream-ng sets it

_CENTRAL_HEADER: Final = struct.Struct("<4s4B4HL2L5H2L")
_END_OF_DIRECTORY: Final = struct.Struct("<4s4H2LH")
_ZIP64_END: Final = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """What the central directory says about one entry, written where ``offset`` says."""

    name: str
    offset: int
    crc: int
    compressed_size: int
    size: int
    date_time: tuple[int, int, int, int, int, int]
    method: int = DEFLATED


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (year - 1980) << 9 | month << 5 | day, hour << 11 | minute << 5 | second // 2


def _encoded_name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), _FLAG_DATA_DESCRIPTOR
    except UnicodeEncodeError:
        return name.encode("utf-8"), _FLAG_DATA_DESCRIPTOR | _FLAG_UTF8


def central_record(entry: EntryRecord) -> bytes:
    """The central directory header of ``entry``, with a ZIP64 extra field when one is needed."""
    extra_values: list[int] = []
    size, compressed_size, offset = entry.size, entry.compressed_size, entry.offset
    if max(size, compressed_size) > ZIP64_LIMIT:
        extra_values += [size, compressed_size]
        size = compressed_size = 0xFFFFFFFF
    if offset > ZIP64_LIMIT:
        extra_values.append(offset)
        offset = 0xFFFFFFFF
    extra = b""
    version = _DEFAULT_VERSION
    if extra_values:
        extra = struct.pack(f"<HH{len(extra_values)}Q", 1, 8 * len(extra_values), *extra_values)
        version = _ZIP64_VERSION
    # The local header was ZIP64 if the entry's declared size could have needed it.
    if entry.size * _ZIP64_ESTIMATE_FACTOR > ZIP64_LIMIT:
        version = _ZIP64_VERSION
    name, flags = _encoded_name(entry.name)
    date, time = _dos_time(entry.date_time)
    header = _CENTRAL_HEADER.pack(
        b"PK\x01\x02", version, _MADE_ON_UNIX, version, 0, flags, entry.method, time, date,
        entry.crc, compressed_size, size, len(name), len(extra), 0, 0, 0, _REGULAR_FILE_RW, offset,
    )  # fmt: skip
    return header + name + extra


def end_records(entries: int, directory_offset: int, directory_size: int) -> bytes:
    """The end of the archive: ZIP64 end record and locator when needed, then the classic record."""
    records = b""
    if entries >= ZIP_FILECOUNT_LIMIT or directory_offset > ZIP64_LIMIT or directory_size > ZIP64_LIMIT:
        zip64_end_offset = directory_offset + directory_size
        records += _ZIP64_END.pack(
            b"PK\x06\x06", 44, _ZIP64_VERSION, _ZIP64_VERSION, 0, 0,
            entries, entries, directory_size, directory_offset,
        )  # fmt: skip
        records += _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, zip64_end_offset, 1)
        entries = min(entries, 0xFFFF)
        directory_size = min(directory_size, 0xFFFFFFFF)
        directory_offset = min(directory_offset, 0xFFFFFFFF)
    return records + _END_OF_DIRECTORY.pack(
        b"PK\x05\x06", 0, 0, entries, entries, directory_size, directory_offset, 0
    )
