"""Document ids: readable, URL-safe, round-trip, and anything else names nothing."""

from __future__ import annotations

import dataclasses
import urllib.parse
from datetime import UTC, datetime

import pytest

from fiscal_core.api.documents_ids import DocumentRef, document_id, parse_document_id
from fiscal_core.storage.records import Direction, DocKind, DocStatus, DocType, Family, FiscalDocument

KEY = "35260212345678000195550010000000421102030405"
NFSE_KEY = "3550308" + "2" + "2" + "12345678000195" + "0000000000042" + "2602" + "000000001" + "7"


def doc(**changes) -> FiscalDocument:
    base = FiscalDocument(
        account_id="acc", company_id="01JCOMPANY", family=Family.NFE, doc_type=DocType.NFE,
        issued_at=datetime(2026, 2, 1, tzinfo=UTC), issuer_doc="12345678000195",
        status=DocStatus.AUTHORIZED, direction=Direction.IN, kind=DocKind.FULL, access_key=KEY,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_an_id_is_the_company_and_the_access_key() -> None:
    assert document_id(doc()) == f"01JCOMPANY.{KEY}"
    assert parse_document_id(f"01JCOMPANY.{KEY}") == DocumentRef("01JCOMPANY", access_key=KEY)
    assert parse_document_id(f"01JCOMPANY.{NFSE_KEY}") == DocumentRef("01JCOMPANY", access_key=NFSE_KEY)


@pytest.mark.parametrize("external_id", ["2026/000123", "NFS-e nº 5 ção", "a.b.c", "=?&#"])
def test_a_document_without_access_key_round_trips_through_a_url_safe_id(external_id: str) -> None:
    record = doc(access_key=None, external_id=external_id, doc_type=DocType.NFSE, family=Family.NFSE)
    value = document_id(record)
    assert urllib.parse.quote(value, safe="") == value  # nothing to escape in a path segment
    assert parse_document_id(value) == DocumentRef(
        "01JCOMPANY", doc_type=DocType.NFSE, external_id=external_id
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        KEY,  # no company
        f".{KEY}",
        f"01JCOMPANY.{KEY[:43]}",
        f"01JCOMPANY.{KEY}0",
        f"01JCOMPANY.{KEY.lower()}x",
        f"a#b.{KEY}",  # the key separator never reaches a key
        "01JCOMPANY.NFE-",
        "01JCOMPANY.XYZ-YWJj",  # no such type
        "01JCOMPANY.NFSE-%%%",
        "01JCOMPANY.NFSE-_w",  # not UTF-8 once decoded
        "x" * 290 + f".{KEY}",
    ],
)
def test_anything_else_is_no_document(value: str) -> None:
    assert parse_document_id(value) is None
