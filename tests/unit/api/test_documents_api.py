"""The documents routes through the resolver, over moto's in-process DynamoDB and S3.

The fixtures here (``docs``, ``world``) are shared with test_documents_import.py.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from fiscal_core.api.documents_services import DocumentServices, get_document_services, s3_client
from fiscal_core.api.pdf import render_pdf
from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import (
    DocKind,
    DocStatus,
    DocType,
    Family,
    FiscalDocument,
    FiscalEvent,
    Manifestacao,
)
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.items import Company as SyncCompany
from fiscal_core.sync.items import DocumentItem, classify
from functions.api.handler import app
from local.fixtures.documents import Company, proc_nfe, res_nfe
from local.fixtures.identities import cnpj_for
from tests.unit.api.conftest import REGION

BUCKET = "docs-unit"
ACME = Company(cnpj_for("acme"), name="ACME LTDA")
SUPPLIER = Company(cnpj_for("supplier"), name="FORNECEDOR SA", uf="MG")
T0 = datetime(2026, 2, 10, 12, tzinfo=UTC)


@dataclass
class World:
    """Two accounts: A (owner, a viewer, a company) and B (owner, a company); a document store."""

    call: Any
    account_a: str = ""
    account_b: str = ""
    company_a: str = ""
    company_b: str = ""
    viewer: str = ""
    docs: DocumentServices | None = None
    renders: list[DocType] = field(default_factory=list)

    def get(self, path: str, sub: str = "owner-a", **query: str) -> Any:
        return self.call("GET", path, sub=sub, query=query or None)

    def put_xml(
        self, generated: Any, *, account: str = "", company_id: str = "", cnpj: str = ACME.cnpj
    ) -> str:
        """Store a generated document with its XML as the sync stores it; its id."""
        assert self.docs is not None
        company = SyncCompany(account or self.account_a, company_id or self.company_a, ACME.cnpj)
        item = classify(DocZip(None, "procNFe", generated.xml), company, Family.NFE, T0)
        assert isinstance(item, DocumentItem)
        self.docs.objects.put_xml([item.xml])
        self.docs.repository.put_document(item.document)
        return f"{item.document.company_id}.{item.document.access_key}"


@pytest.fixture(scope="module")
def bucket(aws: str) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"}
    )
    return BUCKET


@pytest.fixture
def world(call, directory, services, bucket) -> World:
    world = World(call)

    def counting_renderer(doc_type: DocType, xml: bytes) -> bytes:
        world.renders.append(doc_type)
        return render_pdf(doc_type, xml)

    built = DocumentServices(s3=lambda: s3_client(REGION), bucket=bucket, renderer=counting_renderer)
    app.dependency_overrides[get_document_services] = lambda: built
    world.docs = built
    for sub in ("owner-a", "owner-b"):
        directory.add(sub, f"{sub}@example.com")
    world.account_a = call("GET", "/me", sub="owner-a").body["account"]["account_id"]
    world.account_b = call("GET", "/me", sub="owner-b").body["account"]["account_id"]
    new = {"legal_name": "ACME LTDA", "uf": "SP"}
    world.company_a = call("POST", "/companies", sub="owner-a", body={**new, "cnpj": ACME.cnpj}).body[
        "company_id"
    ]
    world.company_b = call("POST", "/companies", sub="owner-b", body={**new, "cnpj": ACME.cnpj}).body[
        "company_id"
    ]
    invited = call("POST", "/account/users", sub="owner-a", body={"email": "viewer@example.com"}).body
    call("PUT", f"/companies/{world.company_a}/permissions/{invited['user_id']}", sub="owner-a",
         body={"role": "VIEWER"})  # fmt: skip
    world.viewer = next(u.sub for u in directory.users.values() if u.email == "viewer@example.com")
    return world


def summary(world: World, number: int, total: Decimal | None = None) -> FiscalDocument:
    """A received summary (no XML yet) of the supplier, as the sync stores a resNFe."""
    nfe = proc_nfe(SUPPLIER, ACME, number=number, issued_at=T0 + timedelta(hours=number), total=total)
    company = SyncCompany(world.account_a, world.company_a, ACME.cnpj)
    item = classify(DocZip(f"{number:015d}", "resNFe", res_nfe(nfe).xml), company, Family.NFE, T0)
    assert isinstance(item, DocumentItem)
    assert item.document.kind is DocKind.SUMMARY
    DocumentRepository().put_document(item.document)
    return item.document


def test_the_list_is_one_index_read_per_filter_and_pages_with_its_cursor(world: World) -> None:
    for number in range(1, 6):
        summary(world, number)
    world.put_xml(proc_nfe(ACME, SUPPLIER, number=9, issued_at=T0))
    first = world.get("/documents", company_id=world.company_a, direction="IN", limit="3")
    assert first.status == 200
    assert [d["number"] for d in first.body["items"]] == [5, 4, 3]
    rest = world.get("/documents", company_id=world.company_a, direction="IN", limit="3",
                     cursor=first.body["next_cursor"])  # fmt: skip
    assert [d["number"] for d in rest.body["items"]] == [2, 1]
    assert rest.body["next_cursor"] is None
    row = first.body["items"][0]
    assert row["issuer"] == {"doc": SUPPLIER.cnpj, "name": "FORNECEDOR SA"}
    assert (row["kind"], row["has_xml"], row["direction"]) == ("SUMMARY", False, "IN")
    mine = world.get("/documents", company_id=world.company_a, type="NFE", direction="OUT")
    assert [(d["number"], d["has_xml"], d["total_value"]) for d in mine.body["items"]] == [
        (9, True, mine.body["items"][0]["total_value"])
    ]
    assert Decimal(mine.body["items"][0]["total_value"]) > 0
    by_issuer = world.get("/documents", company_id=world.company_a, issuer=SUPPLIER.cnpj,
                          issued_from="2026-02-10", issued_to="2026-02-10T14:30:00Z")  # fmt: skip
    assert [d["number"] for d in by_issuer.body["items"]] == [2, 1]


def test_unsupported_filters_and_stale_cursors_are_422_problems(world: World) -> None:
    combo = world.get("/documents", company_id=world.company_a, issuer=SUPPLIER.cnpj, status="AUTHORIZED")
    assert (combo.status, combo.body["type"]) == (422, "/problems/unsupported-filter")
    assert "Supported, each with or without a period" in combo.body["detail"]
    value = world.get("/documents", company_id=world.company_a, min_value="10", type="NFE")
    assert (value.status, value.body["type"]) == (422, "/problems/unsupported-filter")
    assert "lists one company's documents by value" in value.body["detail"]
    for bad, named in (({"min_value": "1.234"}, "min_value"), ({"max_value": "-1"}, "max_value"),
                       ({"min_value": "5", "max_value": "4"}, "max_value")):  # fmt: skip
        refused = world.get("/documents", company_id=world.company_a, **bad)
        assert (refused.status, refused.body["errors"][0]["field"]) == (422, named), refused.body
    summary(world, 1)
    summary(world, 2)
    cursor = world.get("/documents", company_id=world.company_a, limit="1").body["next_cursor"]
    stale = world.get("/documents", company_id=world.company_a, limit="1", cursor=cursor, order="oldest")
    assert (stale.status, stale.body["errors"][0]["field"]) == (422, "cursor")
    garbage = world.get("/documents", company_id=world.company_a, cursor="%%%")
    assert garbage.status == 422


def test_a_value_range_lists_by_value_and_pages_with_its_cursor(world: World) -> None:
    totals = ["0.50", "250.50", "250.50", "250.50", "999.99", "1000.00", "12345.67"]
    for number, total in enumerate(totals, start=1):
        summary(world, number, Decimal(total))
    listed, numbers, cursor = [], [], None
    while True:  # pages of two through the three documents that tie at 250.50
        more: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = world.get("/documents", company_id=world.company_a, min_value="250.5", max_value="1000",
                         limit="2", **more)  # fmt: skip
        assert page.status == 200, page.body
        listed += [d["total_value"] for d in page.body["items"]]
        numbers += [d["number"] for d in page.body["items"]]
        if (cursor := page.body["next_cursor"]) is None:
            break
    assert [Decimal(v) for v in listed] == [Decimal(v) for v in ("1000", "999.99", "250.5", "250.5", "250.5")]
    assert sorted(numbers) == [2, 3, 4, 5, 6]  # each once
    lowest = world.get("/documents", company_id=world.company_a, max_value="250.50", order="lowest",
                       limit="2")  # fmt: skip
    assert [Decimal(d["total_value"]) for d in lowest.body["items"]] == [Decimal("0.5"), Decimal("250.5")]
    other_range = world.get("/documents", company_id=world.company_a, max_value="250.49", order="lowest",
                            cursor=lowest.body["next_cursor"])  # fmt: skip
    assert (other_range.status, other_range.body["errors"][0]["field"]) == (422, "cursor")


def test_account_wide_lists_are_for_owners_and_admins(world: World) -> None:
    summary(world, 1)
    assert [d["number"] for d in world.get("/documents").body["items"]] == [1]
    refused = world.get("/documents", sub=world.viewer)
    assert (refused.status, refused.body["errors"][0]["field"]) == (422, "company_id")
    assert world.get("/documents", sub=world.viewer, company_id=world.company_a).status == 200
    # Account B's owner sees nothing of A, and A's company is a 404 to them.
    assert world.get("/documents", sub="owner-b").body["items"] == []
    assert world.get("/documents", sub="owner-b", company_id=world.company_a).status == 404


def test_number_finds_the_companys_own_document(world: World) -> None:
    doc_id = world.put_xml(proc_nfe(ACME, SUPPLIER, number=777, series=2, issued_at=T0))
    world.put_xml(proc_nfe(ACME, SUPPLIER, number=778, series=2, issued_at=T0))
    found = world.get("/documents", company_id=world.company_a, number="777", series="2", type="NFE",
                      issued_from="2026-01-01", issued_to="2026-03-31")  # fmt: skip
    assert [d["id"] for d in found.body["items"]] == [doc_id]
    assert world.get("/documents", company_id=world.company_a, number="777", series="1",
                     type="NFE").body["items"] == []  # fmt: skip


def test_a_document_and_its_timeline_in_event_order(world: World) -> None:
    doc = summary(world, 3)
    repository = DocumentRepository()

    def event(code: str, seq: int, hours: int, description: str, **effect: Any) -> None:
        repository.put_event(FiscalEvent(
            account_id=world.account_a, company_id=world.company_a, family=Family.NFE, doc_type=DocType.NFE,
            type_code=code, description=description, seq=seq, event_at=T0 + timedelta(days=1, hours=hours),
            access_key=doc.access_key, protocol=f"1352600000{hours:05d}", **effect,
        ))  # fmt: skip

    event("110111", 1, 5, "Cancelamento", status_effect=DocStatus.CANCELLED)
    event("210210", 1, 1, "Ciencia da Operacao", manifestacao_effect=Manifestacao.CIENCIA)
    event("110110", 1, 3, "Carta de Correcao")
    reply = world.get(f"/documents/{world.company_a}.{doc.access_key}")
    assert reply.status == 200
    assert reply.body["status"] == "CANCELLED"
    assert [e["kind"] for e in reply.body["timeline"]] == [
        "authorization", "manifestacao", "correction", "cancellation"
    ]  # fmt: skip
    assert reply.body["timeline"][0]["at"] == reply.body["issued_at"]
    assert world.get(f"/documents/{world.company_a}.{doc.access_key}", sub=world.viewer).status == 200


def test_another_accounts_document_is_the_same_404_as_one_that_does_not_exist(world: World) -> None:
    generated = proc_nfe(ACME, SUPPLIER, number=5, issued_at=T0)
    theirs = world.put_xml(generated, account=world.account_b, company_id=world.company_b)
    assert world.get(f"/documents/{theirs}", sub="owner-b").status == 200
    nowhere = f"{world.company_a}.{generated.key}"  # same key, in A's own company: not stored there
    for suffix in ("", "/xml", "/pdf"):
        replies = [world.get(f"/documents/{doc_id}{suffix}") for doc_id in (theirs, nowhere, "x.y", "import")]
        bodies = [{k: v for k, v in r.body.items() if k != "instance"} for r in replies]
        assert {r.status for r in replies} == {404}
        assert all(body == bodies[0] for body in bodies), bodies
        assert {r.headers["Content-Type"] for r in replies} == {"application/problem+json"}
    assert world.renders == []


def test_xml_link_is_short_lived_named_and_audited(world: World) -> None:
    doc_id = world.put_xml(proc_nfe(ACME, SUPPLIER, number=11, issued_at=T0))
    reply = world.get(f"/documents/{doc_id}/xml", sub=world.viewer)
    assert reply.status == 200
    key = doc_id.split(".")[1]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(reply.body["url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-disposition"] == [f'attachment; filename="{key}.xml"']
    assert (reply.body["filename"], reply.body["content_type"]) == (f"{key}.xml", "application/xml")
    path = urllib.parse.urlsplit(reply.body["url"]).path
    assert path.endswith(f"/{world.account_a}/{world.company_a}/nfe/2026/02/{key}.xml")
    trail = AuditRepository().for_entity(world.account_a, "document", doc_id).items
    assert [(e.action, e.company_id) for e in trail] == [("document.download_xml", world.company_a)]


def test_pdf_is_rendered_once_cached_next_to_the_xml_and_audited(world: World) -> None:
    doc_id = world.put_xml(proc_nfe(ACME, SUPPLIER, number=12, issued_at=T0))
    first = world.get(f"/documents/{doc_id}/pdf")
    second = world.get(f"/documents/{doc_id}/pdf", sub=world.viewer)
    assert (first.status, second.status) == (200, 200)
    assert world.renders == [DocType.NFE]
    key = doc_id.split(".")[1]
    assert urllib.parse.urlsplit(first.body["url"]).path.endswith(f"/{key}.pdf")
    assert "inline" in urllib.parse.unquote(first.body["url"])
    pdf = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=BUCKET, Key=f"{world.account_a}/{world.company_a}/nfe/2026/02/{key}.pdf")["Body"]
        .read()
    )
    assert pdf.startswith(b"%PDF-")
    trail = AuditRepository().for_entity(world.account_a, "document", doc_id).items
    assert [e.action for e in trail] == ["document.download_pdf", "document.download_pdf"]


def test_a_summary_has_no_xml_or_pdf_yet(world: World) -> None:
    doc = summary(world, 4)
    for suffix in ("xml", "pdf"):
        reply = world.get(f"/documents/{world.company_a}.{doc.access_key}/{suffix}")
        assert (reply.status, reply.body["type"]) == (409, "/problems/full-xml-not-available")
        assert "manifest Ciência da Operação" in reply.body["detail"]
    assert world.renders == []
