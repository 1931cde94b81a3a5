"""The spreadsheet inside the ZIP: one row per selected document, as CSV and as XLSX.

Rows are written as CSV, as the documents go by, to a spool (memory, then /tmp) that holds no
Python object per row; an export spanning invocations keeps each invocation's rows in S3. At the
end the CSV entry is those rows behind a header, and the XLSX is built from the same rows by
xlsxwriter in ``constant_memory`` mode, which writes each row to disk as it comes: memory stays
flat whatever the number of rows. The CSV is for programs (RFC 4180, UTF-8, comma, decimal
point, times in UTC); the XLSX for people (numbers as numbers, times in Brasília time).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, Any, Final

import xlsxwriter  # type: ignore[import-untyped]

from fiscal_core.api.documents_filters import BRASILIA
from fiscal_core.exports.archive import new_spool
from fiscal_core.storage.records import FiscalDocument

COLUMNS: Final = (
    "file", "company_cnpj", "company_id", "doc_type", "model", "series", "number", "access_key",
    "external_id", "issued_at", "issuer_doc", "issuer_name", "recipient_doc", "recipient_name",
    "total_value", "status", "direction", "manifestacao", "protocol", "nsu", "kind", "sha256",
    "events", "pdf", "note",
)  # fmt: skip
HEADER: Final = (",".join(COLUMNS) + "\r\n").encode()
_INTEGERS: Final = frozenset({"series", "number", "events"})
_XLSX_MAX_ROWS: Final = 1_048_576  # Excel's limit, header included: more rows go on a new sheet


def document_row(
    doc: FiscalDocument,
    *,
    company_cnpj: str,
    file: str | None,
    events: int,
    pdf: str | None,
    note: str | None,
) -> list[str]:
    """The row of one document: ``file`` is its path in the ZIP, or None when it is not there."""
    values: dict[str, Any] = {
        "file": file, "company_cnpj": company_cnpj, "company_id": doc.company_id,
        "doc_type": doc.doc_type.value, "model": doc.model, "series": doc.series, "number": doc.number,
        "access_key": doc.access_key, "external_id": doc.external_id,
        "issued_at": doc.issued_at.isoformat(), "issuer_doc": doc.issuer_doc, "issuer_name": doc.issuer_name,
        "recipient_doc": doc.recipient_doc, "recipient_name": doc.recipient_name,
        "total_value": doc.total_value, "status": doc.status.value, "direction": doc.direction.value,
        "manifestacao": doc.manifestacao.value if doc.manifestacao else None, "protocol": doc.protocol,
        "nsu": doc.nsu, "kind": doc.kind.value, "sha256": doc.sha256, "events": events, "pdf": pdf,
        "note": note,
    }  # fmt: skip
    return ["" if values[c] is None else str(values[c]) for c in COLUMNS]


class RowSpool:
    """This invocation's rows, CSV-encoded, and how many there are."""

    def __init__(self) -> None:
        self.file: IO[bytes] = new_spool()
        self._text = io.TextIOWrapper(self.file, encoding="utf-8", newline="", write_through=True)
        self._writer = csv.writer(self._text)
        self.rows = 0
        self.bytes = 0

    def write(self, row: list[str]) -> None:
        """Append one row."""
        before = self.file.tell()
        self._writer.writerow(row)
        self.bytes += self.file.tell() - before
        self.rows += 1

    def close(self) -> None:
        """Drop the spool."""
        self._text.detach()
        self.file.close()


def _text_rows(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """Parse CSV rows from byte chunks without holding more than a chunk and a line."""

    def lines() -> Iterator[str]:
        pending = b""
        for chunk in chunks:
            pending += chunk
            *complete, pending = pending.split(b"\r\n")
            for line in complete:
                yield line.decode() + "\r\n"
        if pending:
            yield pending.decode()

    # Every CRLF ends a row: values come from parsed XML, whose line ends are normalised to LF,
    # and a LF inside a quoted value stays within its line here, as csv.reader expects.
    return csv.reader(lines())


def _cell(worksheet: Any, row: int, column: int, name: str, value: str, formats: dict[str, Any]) -> None:
    if value == "":
        return
    if name in _INTEGERS:
        worksheet.write_number(row, column, int(value))
    elif name == "total_value":
        worksheet.write_number(row, column, float(Decimal(value)), formats["money"])
    elif name == "issued_at":
        local = datetime.fromisoformat(value).astimezone(BRASILIA).replace(tzinfo=None)
        worksheet.write_datetime(row, column, local, formats["time"])
    else:
        worksheet.write_string(row, column, value)


def build_xlsx(row_chunks: Iterable[bytes], directory: str) -> str:
    """Write the XLSX of the CSV rows in ``row_chunks`` to a file in ``directory``; returns its path."""
    fd, path = tempfile.mkstemp(suffix=".xlsx", dir=directory)
    os.close(fd)
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": directory})
    formats = {
        "money": workbook.add_format({"num_format": "#,##0.00"}),
        "time": workbook.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"}),
        "header": workbook.add_format({"bold": True}),
    }
    worksheet, row_number = None, _XLSX_MAX_ROWS
    for values in _text_rows(row_chunks):
        if row_number == _XLSX_MAX_ROWS:
            worksheet, row_number = workbook.add_worksheet(), 1
            worksheet.write_row(0, 0, COLUMNS, formats["header"])
            worksheet.freeze_panes(1, 0)
        for column, (name, value) in enumerate(zip(COLUMNS, values, strict=True)):
            _cell(worksheet, row_number, column, name, value, formats)
        row_number += 1
    if worksheet is None:  # no document: a sheet with the header alone
        workbook.add_worksheet().write_row(0, 0, COLUMNS, formats["header"])
    workbook.close()
    return path
