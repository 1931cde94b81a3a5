"""The ZIP writer, the multipart sink and the spreadsheets, without AWS."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream  # type: ignore[import-untyped]

from fiscal_core.exports.archive import ArchiveWriter, read_chunks
from fiscal_core.exports.multipart import MIN_PART_SIZE, MultipartUpload
from fiscal_core.exports.progress import ProgressThrottle
from fiscal_core.exports.spreadsheet import COLUMNS, RowSpool, build_xlsx
from fiscal_core.exports.zipformat import (
    DEFLATED,
    STORED,
    ZIP64_LIMIT,
    EntryRecord,
    central_record,
    end_records,
)


class BytesSink:
    """An archive's bytes in memory."""

    def __init__(self) -> None:
        self.data = bytearray()

    @property
    def offset(self) -> int:
        return len(self.data)

    def write(self, data: bytes) -> None:
        self.data += data


def zipstream_footer(
    name: str, data: bytes, *, compress: bool, offset: int
) -> tuple[int, bytes, dict[str, Any]]:
    """zipstream-ng's own entry length, footer and entry info for one entry written at ``offset``."""
    stream: Any = ZipStream(compress_type=ZIP_DEFLATED if compress else ZIP_STORED, compress_level=6)
    stream._pos = offset  # the entry's offset in a longer archive (private, for this comparison only)
    stream.add([data], name, size=len(data))
    entry = b"".join(stream.all_files())
    (info,) = stream.info_list()
    return len(entry), b"".join(stream.footer()), info


@pytest.mark.parametrize(
    ("name", "compress", "offset"),
    [
        ("12345678000195/NFE/2025-03/3525.xml", True, 0),
        ("CONFIRMAÇÃO/ação.xml", True, 0),  # UTF-8 names carry the language-encoding flag
        ("documentos.xlsx", False, 0),
        ("far/away.xml", True, ZIP64_LIMIT + 10),  # an offset past 2 GiB needs a ZIP64 extra field
    ],
)
def test_central_directory_matches_zipstream_ng_byte_for_byte(name: str, compress: bool, offset: int) -> None:
    data = b"<nfeProc>" + b"x" * 5000 + b"</nfeProc>"
    entry_length, footer, info = zipstream_footer(name, data, compress=compress, offset=offset)
    record = central_record(
        EntryRecord(
            name=info["name"], offset=offset, crc=info["CRC"], compressed_size=info["compressed_size"],
            size=info["size"], date_time=tuple(info["datetime"]), method=DEFLATED if compress else STORED,
        )
    )  # fmt: skip
    assert footer == record + end_records(1, offset + entry_length, len(record))


def test_more_entries_than_a_classic_end_record_counts_open_with_zipfile() -> None:
    # 65,536 entries, past the 65,535 a classic end record can count: the ZIP64 end records appear.
    # The first entry's directory record stands for 65,535 earlier ones (all pointing at it).
    sink = BytesSink()
    first = ArchiveWriter(sink)
    first.add("a.xml", [b"<a/>"], 4)
    record = b"".join(read_chunks(first.directory))
    last = ArchiveWriter(sink, entries=65_535, directory_bytes=65_535 * len(record))
    last.add("b.xml", [b"<b/>"], 4)
    last.finish([record * 65_535])
    archive = zipfile.ZipFile(io.BytesIO(bytes(sink.data)))
    assert len(archive.infolist()) == 65_536 and archive.read("b.xml") == b"<b/>"
    assert b"PK\x06\x06" in sink.data[-200:]


def test_an_archive_resumed_from_its_offset_and_directory_is_one_archive() -> None:
    sink = BytesSink()
    first = ArchiveWriter(sink)
    first.add("a.xml", [b"<a>1</a>"], 8)
    earlier = b"".join(read_chunks(first.directory))
    # Another invocation: a new writer that knows only the entry count and directory size so far
    second = ArchiveWriter(sink, entries=first.entries, directory_bytes=first.directory_bytes)
    second.add("b.xml", [b"<b>", b"2</b>"], 8)
    second.finish([earlier])
    archive = zipfile.ZipFile(io.BytesIO(bytes(sink.data)))
    assert archive.testzip() is None
    assert [(i.filename, archive.read(i)) for i in archive.infolist()] == [
        ("a.xml", b"<a>1</a>"),
        ("b.xml", b"<b>2</b>"),
    ]


class FakeS3:
    """Just enough of S3's multipart API to watch parts go up."""

    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}
        self.completed: list[dict[str, Any]] = []

    def upload_part(self, **kwargs: Any) -> dict[str, str]:
        self.parts[kwargs["PartNumber"]] = kwargs["Body"]
        return {"ETag": f'"{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> None:
        self.completed = kwargs["MultipartUpload"]["Parts"]


def test_the_multipart_sink_sends_full_parts_and_keeps_a_bounded_tail() -> None:
    s3: Any = FakeS3()
    upload = MultipartUpload(s3, "b", "k", "id", part_size=MIN_PART_SIZE)
    for _ in range(11):
        upload.write(b"z" * (MIN_PART_SIZE // 4 + 1))
    assert sorted(s3.parts) == [1, 2] and all(len(p) == MIN_PART_SIZE for p in s3.parts.values())
    assert len(upload.tail) < MIN_PART_SIZE and upload.offset == 11 * (MIN_PART_SIZE // 4 + 1)
    # Resumed elsewhere from (parts, tail): the same object comes out
    resumed = MultipartUpload(
        s3, "b", "k", "id", part_size=MIN_PART_SIZE, parts=upload.parts, tail=upload.tail
    )
    assert resumed.offset == upload.offset
    assert resumed.complete() == upload.offset
    assert [p["PartNumber"] for p in s3.completed] == [1, 2, 3]
    with pytest.raises(ValueError, match="at least"):
        MultipartUpload(s3, "b", "k", "id", part_size=1024)


def test_rows_round_trip_through_csv_and_xlsx(tmp_path: Any) -> None:
    spool = RowSpool()
    tricky = ["a,b", 'quote "q"', "ação\nnova linha"]
    for n, text in enumerate(tricky):
        row = dict.fromkeys(COLUMNS, "") | {
            "file": f"{n}.xml", "issuer_name": text, "number": str(n), "total_value": "1234.50",
            "issued_at": "2025-03-01T15:00:00+00:00",
        }  # fmt: skip
        spool.write([row[c] for c in COLUMNS])
    chunks = list(read_chunks(spool.file))
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert [r[COLUMNS.index("issuer_name")] for r in rows] == tricky and spool.rows == 3
    assert spool.bytes == len(b"".join(chunks))
    # Split the CSV anywhere: the XLSX reader must still see whole rows
    path = build_xlsx(
        [b"".join(chunks)[i : i + 7] for i in range(0, len(b"".join(chunks)), 7)], str(tmp_path)
    )
    with zipfile.ZipFile(path) as xlsx:
        sheet = xlsx.read("xl/worksheets/sheet1.xml").decode()
    assert "ação\nnova linha" in sheet and 'quote "q"' in sheet.replace("&quot;", '"')
    assert "<v>1234.5</v>" in sheet  # a number, not text
    spool.close()


def test_progress_is_reported_every_2_percent_or_5_seconds() -> None:
    now, reports = [0.0], []
    throttle = ProgressThrottle(None, lambda: reports.append(now[0]), clock=lambda: now[0])
    for done in range(1, 50):  # the total is still being counted: only time can trigger a report
        throttle.update(done)
    assert reports == []
    now[0] = 5.0
    throttle.update(50)
    assert reports == [5.0]
    throttle.set_total(1000)  # counted: a step is now 20 documents
    throttle.update(69)
    assert reports == [5.0]
    throttle.update(70)
    assert reports == [5.0, 5.0]
