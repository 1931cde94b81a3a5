"""The documents routes through the local HTTP gateway, with real Cognito access tokens.

Runs on the API package's LocalSystem (conftest.py, stage "apitest") with accounts of its own:
a second LocalSystem in the same process would share moto's Lambda dispatch patch and the
process environment with it. Documents arrive as a company's users would bring them (the
import route) or, for what only the sync brings (a summary of a received NF-e), as the sync
stores them.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from fiscal_core.api.documents_services import get_document_services
from fiscal_core.settings import get_settings
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Family
from fiscal_core.storage.tables import bind_tables
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.items import Company as SyncCompany
from fiscal_core.sync.items import DocumentItem, classify
from local.fixtures.documents import Company, EventType, nfe_event, proc_cte, proc_nfe, res_nfe
from local.fixtures.identities import cnpj_for
from local.system import LocalSystem
from tests.integration.api.client import Api, Reply, Users

pytestmark = pytest.mark.slow

ACME = Company(cnpj_for("docs-acme"), name="ACME DOCUMENTOS LTDA")
SUPPLIER = Company(cnpj_for("docs-supplier"), name="FORNECEDOR DOCS SA", uf="PR")
ISSUED = datetime(2026, 9, 14, 13, tzinfo=UTC)


@dataclass(frozen=True)
class Docs:
    """Account A (owner, operator, viewer of its company) and account B (owner, company)."""

    api: Api
    owner_a: str
    operator_a: str
    viewer_a: str
    account_a: str
    company_a: str
    owner_b: str
    company_b: str

    def get(self, path: str, token: str, **query: str) -> Reply:
        return self.api.call("GET", path, token, query=query or None)

    def upload(self, body: bytes, content_type: str, token: str, company_id: str = "") -> Reply:
        query = urllib.parse.urlencode({"company_id": company_id or self.company_a})
        request = urllib.request.Request(
            f"{self.api.url}/documents/import?{query}",
            data=body,
            method="POST",
            headers={"authorization": f"Bearer {token}", "content-type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Reply(response.status, response.headers["content-type"], json.loads(response.read()))
        except urllib.error.HTTPError as error:
            raw, kind = error.read(), error.headers.get("content-type", "")
            return Reply(error.code, kind, json.loads(raw) if "json" in kind else raw.decode())


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    """What a browser gets from a presigned link (moto plays S3)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), {k.lower(): v for k, v in response.headers.items()}


@pytest.fixture(scope="module", autouse=True)
def fresh_document_services(system: LocalSystem) -> Iterator[None]:
    # Built once per process from the environment: this package's stage needs its own.
    get_document_services.cache_clear()
    # moto evaluates bucket policies without their conditions, so the TLS-only Deny of the
    # documents bucket (aws:SecureTransport false) denies every object call made to the local,
    # plain-HTTP plane. AWS applies it only to non-TLS requests; locally it must go.
    system.aws.client("s3").delete_bucket_policy(Bucket=get_settings().documents_bucket)
    yield
    get_document_services.cache_clear()


@pytest.fixture(scope="module")
def docs(api: Api, users: Users) -> Docs:
    owner_a = users.sign_up("owner@docs-a.example").access_token
    account_a = api.call("GET", "/me", owner_a).body["account"]["account_id"]
    company = {"cnpj": ACME.cnpj, "legal_name": ACME.name, "uf": "SP"}
    company_a = api.call("POST", "/companies", owner_a, body=company).body["company_id"]
    tokens = {}
    for who, role in (("operator", "OPERATOR"), ("viewer", "VIEWER")):
        email = f"{who}@docs-a.example"
        user_id = api.call("POST", "/account/users", owner_a, body={"email": email}).body["user_id"]
        assert api.call("PUT", f"/companies/{company_a}/permissions/{user_id}", owner_a,
                        body={"role": role}).status == 200  # fmt: skip
        tokens[who] = users.accept_invitation(email).access_token
    owner_b = users.sign_up("owner@docs-b.example").access_token
    company_b = api.call("POST", "/companies", owner_b, body=company).body["company_id"]
    return Docs(api, owner_a, tokens["operator"], tokens["viewer"], account_a, company_a, owner_b, company_b)


@pytest.fixture(scope="module")
def mine(docs: Docs) -> dict[str, Any]:
    """A's own NF-e (cancelled later) and CT-e, imported as one ZIP by A's operator."""
    nfe = proc_nfe(ACME, SUPPLIER, number=1001, issued_at=ISSUED)
    cte = proc_cte(ACME, number=55, issued_at=ISSUED)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("emitidas/nfe-1001.xml", nfe.xml)
        zipped.writestr("emitidas/cte-55.xml", cte.xml)
        zipped.writestr("eventos/cancelamento.xml", nfe_event(nfe, EventType.CANCELAMENTO).xml)
        zipped.writestr("../../etc/passwd", b"root:x:0:0")
    reply = docs.upload(archive.getvalue(), "application/zip", docs.operator_a)
    assert reply.status == 200, reply.body
    assert reply.body["counts"] == {"imported": 3, "duplicate": 0, "rejected": 1}
    return {
        "nfe": nfe,
        "cte": cte,
        "nfe_id": f"{docs.company_a}.{nfe.key}",
        "cte_id": f"{docs.company_a}.{cte.key}",
    }


@pytest.fixture(scope="module")
def received_summary(docs: Docs) -> str:
    """A supplier's NF-e to A, known only by its summary (as the sync stores a resNFe)."""
    bind_tables(get_settings().table_prefix)
    nfe = proc_nfe(SUPPLIER, ACME, number=77, issued_at=ISSUED)
    company = SyncCompany(docs.account_a, docs.company_a, ACME.cnpj)
    item = classify(
        DocZip("000000000000001", "resNFe_v1.01.xsd", res_nfe(nfe).xml), company, Family.NFE, ISSUED
    )
    assert isinstance(item, DocumentItem)
    DocumentRepository().put_document(item.document)
    return f"{docs.company_a}.{nfe.key}"


def test_list_each_filter_pages_and_refusals(docs: Docs, mine: dict[str, Any], received_summary: str) -> None:
    company = docs.company_a
    everything = docs.get("/documents", docs.viewer_a, company_id=company)
    assert everything.status == 200
    assert {d["id"] for d in everything.body["items"]} == {mine["nfe_id"], mine["cte_id"], received_summary}
    assert [
        d["id"] for d in docs.get("/documents", docs.viewer_a, company_id=company, type="CTE").body["items"]
    ] == [mine["cte_id"]]
    cancelled = docs.get("/documents", docs.viewer_a, company_id=company, status="CANCELLED", direction="OUT")
    assert [d["id"] for d in cancelled.body["items"]] == [mine["nfe_id"]]
    received = docs.get("/documents", docs.viewer_a, company_id=company, issuer=SUPPLIER.cnpj)
    assert [(d["id"], d["kind"]) for d in received.body["items"]] == [(received_summary, "SUMMARY")]
    by_number = docs.get(
        "/documents", docs.viewer_a, company_id=company, number="1001", series="1", type="NFE"
    )
    assert [d["id"] for d in by_number.body["items"]] == [mine["nfe_id"]]
    by_key = docs.get("/documents", docs.viewer_a, company_id=company, access_key=mine["cte"].key)
    assert [d["id"] for d in by_key.body["items"]] == [mine["cte_id"]]
    seen, cursor = [], None
    while True:
        page = docs.get("/documents", docs.owner_a, company_id=company, limit="1",
                        **({"cursor": cursor} if cursor else {}))  # fmt: skip
        seen += [d["id"] for d in page.body["items"]]
        if (cursor := page.body["next_cursor"]) is None:
            break
    assert sorted(seen) == sorted(d["id"] for d in everything.body["items"])
    combo = docs.get("/documents", docs.viewer_a, company_id=company, issuer=SUPPLIER.cnpj, type="NFE")
    assert (combo.status, combo.content_type) == (422, "application/problem+json")
    assert combo.body["type"] == "/problems/unsupported-filter"
    totals = {d["id"]: Decimal(d["total_value"]) for d in everything.body["items"] if d["total_value"]}
    middle = sorted(totals.values())[len(totals) // 2]
    by_value = docs.get("/documents", docs.viewer_a, company_id=company, max_value=str(middle))
    assert by_value.status == 200, by_value.body
    listed = [d["id"] for d in by_value.body["items"]]
    assert sorted(listed) == sorted(i for i, v in totals.items() if v <= middle)
    assert [totals[i] for i in listed] == sorted((totals[i] for i in listed), reverse=True)
    assert docs.get("/documents", docs.viewer_a, company_id=company, max_value="10", type="NFE").status == 422
    assert docs.get("/documents", docs.viewer_a).body["errors"][0]["field"] == "company_id"
    assert len(docs.get("/documents", docs.owner_a, issued_from="2026-09-14").body["items"]) == 3


def test_detail_timeline_and_links_with_their_audit(docs: Docs, mine: dict[str, Any]) -> None:
    detail = docs.get(f"/documents/{mine['nfe_id']}", docs.viewer_a)
    assert detail.status == 200
    assert (detail.body["status"], detail.body["direction"]) == ("CANCELLED", "OUT")
    assert [e["kind"] for e in detail.body["timeline"]] == ["authorization", "cancellation"]
    xml = docs.get(f"/documents/{mine['nfe_id']}/xml", docs.viewer_a)
    assert xml.status == 200
    assert "X-Amz-Expires=300" in xml.body["url"]
    body, headers = fetch(xml.body["url"])
    assert body == mine["nfe"].xml
    assert headers["content-disposition"] == f'attachment; filename="{mine["nfe"].key}.xml"'
    assert headers["content-type"] == "application/xml"
    pdf = docs.get(f"/documents/{mine['cte_id']}/pdf", docs.viewer_a)
    assert pdf.status == 200
    pdf_body, pdf_headers = fetch(pdf.body["url"])
    assert pdf_body.startswith(b"%PDF-")
    assert pdf_headers["content-disposition"] == f'inline; filename="{mine["cte"].key}.pdf"'
    again = docs.get(f"/documents/{mine['cte_id']}/pdf", docs.owner_a)
    assert urllib.parse.urlsplit(again.body["url"]).path == urllib.parse.urlsplit(pdf.body["url"]).path
    trail = docs.get("/audit-logs", docs.owner_a, entity_type="document", entity_id=mine["cte_id"]).body[
        "items"
    ]
    assert [e["action"] for e in trail] == ["document.download_pdf", "document.download_pdf"]


def test_a_summary_has_no_xml_or_pdf_yet(docs: Docs, received_summary: str) -> None:
    for route in ("xml", "pdf"):
        reply = docs.get(f"/documents/{received_summary}/{route}", docs.owner_a)
        assert (reply.status, reply.body["type"]) == (409, "/problems/full-xml-not-available")


def test_import_outcomes_and_refusals(docs: Docs, mine: dict[str, Any]) -> None:
    again = docs.upload(mine["nfe"].xml, "application/xml", docs.owner_a)
    assert [f["status"] for f in again.body["files"]] == ["duplicate"]
    theirs = docs.upload(proc_nfe(SUPPLIER, ACME, number=5).xml, "application/xml", docs.operator_a)
    assert theirs.body["files"][0]["reason"].startswith("not issued by this company")
    viewer = docs.upload(proc_nfe(ACME, SUPPLIER, number=6).xml, "application/xml", docs.viewer_a)
    assert (viewer.status, viewer.body["type"]) == (403, "/problems/forbidden")
    too_large = docs.upload(b"<a/>" + b" " * (5 * 1024 * 1024), "application/xml", docs.owner_a)
    assert (too_large.status, too_large.body["type"]) == (413, "/problems/payload-too-large")
    assert docs.upload(b"{}", "application/json", docs.owner_a).status == 415
    corrupt = docs.upload(b"PK\x03\x04broken", "application/zip", docs.owner_a)
    assert (corrupt.status, corrupt.body["type"]) == (422, "/problems/archive-rejected")


def test_another_accounts_ids_are_404_like_ids_that_name_nothing(docs: Docs, mine: dict[str, Any]) -> None:
    theirs = docs.upload(mine["nfe"].xml, "application/xml", docs.owner_b, docs.company_b)
    b_id = theirs.body["files"][0]["document_id"]
    assert docs.get(f"/documents/{b_id}", docs.owner_b).status == 200
    nowhere = f"{'0' * 32}.{mine['nfe'].key}"
    for suffix in ("", "/xml", "/pdf"):
        of_b, of_nobody = (docs.get(f"/documents/{i}{suffix}", docs.owner_a) for i in (b_id, nowhere))
        assert of_b.status == of_nobody.status == 404
        assert {**of_b.body, "instance": ""} == {**of_nobody.body, "instance": ""}
    listed_b, listed_nobody = (
        docs.get("/documents", docs.owner_a, company_id=c) for c in (docs.company_b, "0" * 32)
    )
    assert listed_b.status == listed_nobody.status == 404
    assert {**listed_b.body, "instance": ""} == {**listed_nobody.body, "instance": ""}
    imported_b = docs.upload(
        proc_nfe(ACME, SUPPLIER, number=9).xml, "application/xml", docs.owner_a, docs.company_b
    )
    assert imported_b.status == 404
