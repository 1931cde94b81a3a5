"""What each docZip is for the company: documents with their direction, events with their effect."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

from fiscal_core.storage.records import Direction, DocKind, DocStatus, DocType, Family, Manifestacao
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.items import Company, DocumentItem, EventItem, UnreadableItem, classify
from local.fixtures.documents import EventType, nfe_event, proc_cte, proc_nfe, res_nfe
from tests.unit.sync.fakes import nsu
from tests.unit.sync.harness import COMPANY, SUPPLIER

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
ME = Company("acc1", "co1", COMPANY.cnpj)
ISSUED = datetime(2026, 3, 9, 15, tzinfo=UTC)


def test_a_summary_is_addressed_to_the_company() -> None:
    note = proc_nfe(SUPPLIER, COMPANY, number=3, issued_at=ISSUED, total=Decimal("10.50"))
    item = classify(DocZip(nsu(4), "resNFe_v1.01.xsd", res_nfe(note).xml), ME, Family.NFE, NOW)
    assert isinstance(item, DocumentItem)
    document = item.document
    assert (document.kind, document.direction, document.status) == (
        DocKind.SUMMARY,
        Direction.IN,
        DocStatus.AUTHORIZED,
    )
    assert document.recipient_doc == COMPANY.cnpj
    assert document.total_value == Decimal("10.50")
    assert document.nsu == nsu(4)
    assert document.s3_key == f"acc1/co1/nfe/2026/03/{note.key}.xml"
    assert document.sha256 == hashlib.sha256(item.xml.body).hexdigest()


def test_direction_is_the_company_side() -> None:
    issued = proc_nfe(COMPANY, SUPPLIER, number=4, issued_at=ISSUED)
    carried = proc_nfe(SUPPLIER, SUPPLIER, number=5, issued_at=ISSUED)
    out = classify(DocZip(nsu(1), "procNFe_v4.00.xsd", issued.xml), ME, Family.NFE, NOW)
    third = classify(DocZip(nsu(2), "procNFe_v4.00.xsd", carried.xml), ME, Family.NFE, NOW)
    assert isinstance(out, DocumentItem) and out.document.direction is Direction.OUT
    assert isinstance(third, DocumentItem) and third.document.direction is Direction.THIRD
    assert out.document.kind is DocKind.FULL


def test_events_carry_their_effect() -> None:
    note = proc_nfe(SUPPLIER, COMPANY, number=6, issued_at=ISSUED)
    cancel = classify(
        DocZip(nsu(1), "procEventoNFe_v1.00.xsd", nfe_event(note, EventType.CANCELAMENTO).xml),
        ME,
        Family.NFE,
        NOW,
    )
    cce = classify(
        DocZip(nsu(2), "procEventoNFe_v1.00.xsd", nfe_event(note, EventType.CARTA_CORRECAO).xml),
        ME,
        Family.NFE,
        NOW,
    )
    ciencia = classify(
        DocZip(nsu(3), "procEventoNFe_v1.00.xsd", nfe_event(note, EventType.CIENCIA_OPERACAO).xml),
        ME,
        Family.NFE,
        NOW,
    )
    assert isinstance(cancel, EventItem) and cancel.event.status_effect is DocStatus.CANCELLED
    assert isinstance(cce, EventItem) and (cce.event.status_effect, cce.event.manifestacao_effect) == (
        None,
        None,
    )
    assert isinstance(ciencia, EventItem) and ciencia.event.manifestacao_effect is Manifestacao.CIENCIA
    assert cancel.event.doc_key == f"KEY#{note.key}"
    assert cancel.event.s3_key is not None and "/events/nfe/" in cancel.event.s3_key


def test_a_cte_is_stored_under_its_own_type() -> None:
    cte = proc_cte(SUPPLIER, SUPPLIER, COMPANY, number=1, issued_at=ISSUED)
    item = classify(DocZip(nsu(1), "procCTe_v4.00.xsd", cte.xml), ME, Family.CTE, NOW)
    assert isinstance(item, DocumentItem)
    assert (item.document.doc_type, item.document.family) == (DocType.CTE, Family.CTE)
    assert "/cte/2026/03/" in (item.document.s3_key or "")


def test_xml_that_cannot_be_read_is_kept_aside_not_lost() -> None:
    item = classify(DocZip(nsu(9), "resNFe_v1.01.xsd", b"<resNFe><broken"), ME, Family.NFE, NOW)
    assert isinstance(item, UnreadableItem)
    assert item.xml.key == f"acc1/co1/unreadable/nfe/{nsu(9)}.xml"
    assert item.xml.body == b"<resNFe><broken"
