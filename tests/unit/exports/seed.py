"""Documents for export tests, stored as the sync stores them, and checks of the ZIP an export makes."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree

from fiscal_core.identifiers import DocumentModel, build_access_key
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.companies import CompanyRecord, CompanyRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import (
    Direction,
    DocKind,
    DocStatus,
    DocType,
    Family,
    FiscalDocument,
    FiscalEvent,
)
from fiscal_core.sync.object_keys import document_object_key, event_object_key

PREFIX = "exportunit"
REGION = "sa-east-1"
DOCS_BUCKET = "unit-documents"
EXPORTS_BUCKET = "unit-exports"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "12345678000195"


def xml_body(number: int, size: int) -> bytes:
    """A document body of about ``size`` bytes, half of it incompressible (as real XML is not)."""
    noise = os.urandom(size // 4).hex()
    return f'<nfeProc versao="4.00"><n>{number}</n><x>{noise}</x>{"<det/>" * (size // 12)}</nfeProc>'.encode()


@dataclass
class Seeder:
    """Stores companies and documents of one account."""

    s3: Any
    account_id: str
    bucket: str = DOCS_BUCKET
    documents: DocumentRepository = field(default_factory=DocumentRepository)
    bodies: dict[str, bytes] = field(default_factory=dict)  # access key → XML

    def company(self, company_id: str = "co1", cnpj: str = "11222333000181") -> str:
        now = utc_now()
        CompanyRepository().create(
            CompanyRecord(
                self.account_id, company_id, cnpj, "ACME LTDA", "SP", created_at=now, updated_at=now
            )
        )
        return company_id

    def document(
        self,
        company_id: str,
        number: int,
        *,
        size: int = 2000,
        kind: DocKind = DocKind.FULL,
        issued_at: datetime | None = None,
        store_body: bool = True,
        body: bytes | None = None,
        access_key: str | None = None,
    ) -> FiscalDocument:
        issued = issued_at or T0 + timedelta(minutes=number)
        key = access_key or build_access_key(
            cuf="35", year_month=f"{issued:%y%m}", issuer_doc=ISSUER, model=DocumentModel.NFE,
            series=1, number=number, cnf=f"{number:08d}",
        ).value  # fmt: skip
        data = body if body is not None else xml_body(number, size)
        s3_key = document_object_key(self.account_id, company_id, "NFE", issued, key)
        full = kind is DocKind.FULL
        if full and store_body:
            self.s3.put_object(Bucket=self.bucket, Key=s3_key, Body=data)
        if full:
            self.bodies[key] = data
        doc = FiscalDocument(
            account_id=self.account_id, company_id=company_id, family=Family.NFE, doc_type=DocType.NFE,
            issued_at=issued, issuer_doc=ISSUER, status=DocStatus.AUTHORIZED, direction=Direction.IN,
            kind=kind, access_key=key, model="55", series="1", number=number, issuer_name="FORNECEDOR SA",
            recipient_doc="11222333000181", recipient_name="ACME LTDA", total_value=Decimal(f"{number}.10"),
            protocol="135250000000001" if full else None, s3_key=s3_key if full else None,
            sha256=hashlib.sha256(data).hexdigest() if full else None, nsu=f"{number:015d}",
        )  # fmt: skip
        self.documents.put_document(doc)
        return doc

    def cancellation(self, doc: FiscalDocument) -> bytes:
        """A cancellation event of ``doc`` with its XML stored; returns the XML."""
        at = doc.issued_at + timedelta(hours=1)
        assert doc.access_key is not None
        s3_key = event_object_key(self.account_id, doc.company_id, "NFE", at, doc.access_key, "110111#001")
        data = f"<procEventoNFe><chNFe>{doc.access_key}</chNFe></procEventoNFe>".encode()
        self.s3.put_object(Bucket=self.bucket, Key=s3_key, Body=data)
        self.documents.put_event(
            FiscalEvent(
                account_id=self.account_id, company_id=doc.company_id, family=Family.NFE,
                doc_type=DocType.NFE, type_code="110111", description="Cancelamento", seq=1, event_at=at,
                access_key=doc.access_key, status_effect=DocStatus.CANCELLED, s3_key=s3_key,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )  # fmt: skip
        return data


def open_zip(data: bytes) -> zipfile.ZipFile:
    """The export's ZIP, checked: every CRC right, no name twice."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == len(set(names)), "duplicate entries"
    return archive


def xml_entries(archive: zipfile.ZipFile) -> dict[str, str]:
    """access key → SHA-256 of the entry, for every document XML in the archive."""
    return {
        name.rsplit("/", 1)[-1].removesuffix(".xml"): hashlib.sha256(archive.read(name)).hexdigest()
        for name in archive.namelist()
        if name.endswith(".xml") and "-110111-" not in name
    }


def csv_rows(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    """The rows of documentos.csv."""
    return list(csv.DictReader(io.StringIO(archive.read("documentos.csv").decode())))


_SHEET_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def xlsx_rows(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    """The cells of documentos.xlsx's first sheet by column letter, one dict per row (header first).

    xlsxwriter's constant_memory mode writes strings inline, so the sheet's XML holds every value.
    """
    with zipfile.ZipFile(io.BytesIO(archive.read("documentos.xlsx"))) as xlsx:
        sheet = etree.fromstring(xlsx.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iterfind(".//s:sheetData/s:row", _SHEET_NS):
        cells = {}
        for cell in row.iterfind("s:c", _SHEET_NS):
            column = "".join(ch for ch in cell.get("r", "") if ch.isalpha())
            cells[column] = "".join(str(text) for text in cell.itertext())
        rows.append(cells)
    return rows
