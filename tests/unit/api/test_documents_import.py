"""POST /documents/import through the resolver: one XML or a ZIP, a report per file, audited."""

from __future__ import annotations

import hashlib
import io
import zipfile

import boto3

from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Direction, DocKind
from local.fixtures.documents import EventType, nfe_event, proc_cte, proc_nfe, res_nfe
from tests.unit.api.conftest import REGION
from tests.unit.api.test_documents_api import ACME, BUCKET, SUPPLIER, T0, World, bucket, world

__all__ = ["bucket", "world"]  # fixtures shared with the routes' tests


def upload(world: World, body: bytes, content_type: str, sub: str = "owner-a", **query: str):
    params = {"company_id": world.company_a, **query}
    return world.call(
        "POST", "/documents/import", sub=sub, raw_body=body, content_type=content_type, query=params
    )


def make_zip(*entries: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_one_xml_is_stored_with_its_digest_then_recognised_as_a_duplicate(world: World) -> None:
    nfe = proc_nfe(ACME, SUPPLIER, number=31, issued_at=T0)
    first = upload(world, nfe.xml, "application/xml", filename="nota-31.xml")
    assert first.status == 200
    assert first.body["counts"] == {"imported": 1, "duplicate": 0, "rejected": 0}
    (row,) = first.body["files"]
    assert (row["file"], row["status"], row["access_key"]) == ("nota-31.xml", "imported", nfe.key)
    assert row["document_id"] == f"{world.company_a}.{nfe.key}"
    stored = DocumentRepository().get_document(world.account_a, world.company_a, access_key=nfe.key)
    assert stored is not None
    assert (stored.direction, stored.kind, stored.number) == (Direction.OUT, DocKind.FULL, 31)
    assert stored.s3_key == f"{world.account_a}/{world.company_a}/nfe/2026/02/{nfe.key}.xml"
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=stored.s3_key)["Body"].read()
    assert body == nfe.xml
    assert stored.sha256 == hashlib.sha256(nfe.xml).hexdigest()
    again = upload(world, nfe.xml, "text/xml")
    assert again.body["files"] == [
        {"file": "document.xml", "status": "duplicate", "access_key": nfe.key,
         "document_id": row["document_id"], "reason": "already stored"}
    ]  # fmt: skip
    trail = AuditRepository().for_entity(world.account_a, "company", world.company_a).items
    imports = [e for e in trail if e.action == "document.import"]
    assert [(e.details["imported"], e.details["duplicate"]) for e in imports] == [(0, 1), (1, 0)]
    assert imports[1].details["access_keys"] == [nfe.key]


def test_a_zip_gets_a_report_per_file_and_nothing_unsafe_is_followed(world: World) -> None:
    mine = proc_nfe(ACME, SUPPLIER, number=40, issued_at=T0)
    cte = proc_cte(ACME, number=41, issued_at=T0)
    theirs = proc_nfe(SUPPLIER, ACME, number=42, issued_at=T0)
    cancellation = nfe_event(mine, EventType.CANCELAMENTO)
    their_cancellation = nfe_event(theirs, EventType.CANCELAMENTO)
    my_ciencia_on_theirs = nfe_event(theirs, EventType.CIENCIA_OPERACAO)
    xxe = b'<!DOCTYPE nfeProc [<!ENTITY x SYSTEM "file:///etc/passwd">]><nfeProc>&x;</nfeProc>'
    archive = make_zip(
        ("2026/02/mine.xml", mine.xml),
        ("cte.xml", cte.xml),
        ("mine-again.xml", mine.xml),
        ("theirs.xml", theirs.xml),
        ("summary.xml", res_nfe(theirs).xml),
        ("cancel.xml", cancellation.xml),
        ("cancel-again.xml", cancellation.xml),
        ("their-cancel.xml", their_cancellation.xml),
        ("ciencia.xml", my_ciencia_on_theirs.xml),
        ("xxe.xml", xxe),
        ("../escape.xml", mine.xml),
        ("inner.zip", make_zip(("a.xml", mine.xml))),
        ("bomb.xml", b" " * (3 * 1024 * 1024)),
        ("notes.txt", b"hello"),
    )
    reply = upload(world, archive, "application/zip")
    assert reply.status == 200
    report = {row["file"]: row for row in reply.body["files"]}
    assert {name: row["status"] for name, row in report.items()} == {
        "mine.xml": "imported", "cte.xml": "imported", "mine-again.xml": "duplicate",
        "theirs.xml": "rejected", "summary.xml": "rejected", "cancel.xml": "imported",
        "cancel-again.xml": "duplicate", "their-cancel.xml": "rejected", "ciencia.xml": "rejected",
        "xxe.xml": "rejected", "escape.xml": "rejected", "inner.zip": "rejected", "bomb.xml": "rejected",
        "notes.txt": "rejected",
    }  # fmt: skip
    assert reply.body["counts"] == {"imported": 3, "duplicate": 2, "rejected": 9}
    assert report["theirs.xml"]["reason"].startswith("not issued by this company")
    assert report["summary.xml"]["reason"].startswith("a summary (resNFe)")
    assert report["cancel.xml"]["document_id"] == report["mine.xml"]["document_id"]
    assert report["mine-again.xml"]["reason"] == "repeats a file earlier in this upload"
    assert report["their-cancel.xml"]["reason"].startswith(f"an event registered by {SUPPLIER.cnpj}")
    assert report["ciencia.xml"]["reason"].startswith("an event on a document this company did not issue")
    assert "DOCTYPE" in report["xxe.xml"]["reason"]
    assert report["escape.xml"]["reason"].startswith("unsafe file name")
    assert report["inner.zip"]["reason"].startswith("an archive inside the archive")
    assert "decompression bombs" in report["bomb.xml"]["reason"]
    assert report["notes.txt"]["reason"].startswith("not XML")
    listed = world.get("/documents", company_id=world.company_a, direction="OUT")
    assert sorted((d["number"], d["status"]) for d in listed.body["items"]) == [
        (40, "CANCELLED"), (41, "AUTHORIZED")
    ]  # fmt: skip
    timeline = world.get(f"/documents/{report['mine.xml']['document_id']}").body["timeline"]
    assert [e["kind"] for e in timeline] == ["authorization", "cancellation"]


def test_a_viewer_cannot_import_and_an_unknown_company_is_a_404(world: World) -> None:
    nfe = proc_nfe(ACME, SUPPLIER, number=50, issued_at=T0)
    refused = upload(world, nfe.xml, "application/xml", sub=world.viewer)
    assert (refused.status, refused.body["type"]) == (403, "/problems/forbidden")
    assert "OPERATOR" in refused.body["detail"]
    assert upload(world, nfe.xml, "application/xml", sub="owner-b").status == 404
    assert DocumentRepository().get_document(world.account_a, world.company_a, access_key=nfe.key) is None


def test_bodies_the_import_does_not_take_are_problems(world: World) -> None:
    too_big = upload(world, b"<a/>" + b" " * (4 * 1024 * 1024), "application/xml")
    assert (too_big.status, too_big.body["type"]) == (413, "/problems/payload-too-large")
    wrong_type = upload(world, b'{"xml": "..."}', "application/json")
    assert (wrong_type.status, wrong_type.body["type"]) == (415, "/problems/unsupported-media-type")
    corrupt = upload(world, b"PK\x03\x04 this is not really a zip", "application/zip")
    assert (corrupt.status, corrupt.body["type"]) == (422, "/problems/archive-rejected")
    empty = upload(world, b"", "application/xml")
    assert (empty.status, empty.body["errors"][0]["field"]) == (422, "body")
    missing = world.call(
        "POST", "/documents/import", sub="owner-a", raw_body=b"<a/>", content_type="text/xml"
    )
    assert (missing.status, missing.body["errors"][0]["field"]) == (422, "company_id")
