"""The export worker against moto: what the ZIP holds, the spreadsheet, progress, empty selections."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

from fiscal_core.exports.worker import Outcome
from fiscal_core.storage.exports import ExportStatus
from fiscal_core.storage.records import DocKind
from tests.unit.exports.harness import Harness
from tests.unit.exports.seed import DOCS_BUCKET, T0, Seeder, csv_rows, open_zip, xlsx_rows, xml_entries


@pytest.fixture
def harness(aws: dict[str, Any], seeder: Seeder) -> Harness:
    return Harness(aws["s3"], seeder.account_id)


def test_zip_holds_exactly_the_selected_documents_byte_for_byte(harness: Harness, seeder: Seeder) -> None:
    # Given 30 documents of co1, 5 of co2, and a period that selects co1's numbers 6 to 25
    co1, co2 = seeder.company("co1"), seeder.company("co2", cnpj="04252011000110")
    docs = [seeder.document(co1, n) for n in range(1, 31)] + [seeder.document(co2, n) for n in range(1, 6)]
    selected = [d for d in docs if d.company_id == co1 and 6 <= (d.number or 0) <= 25]
    job = harness.job({
        "company_id": co1,
        "issued_from": (T0 + timedelta(minutes=6)).isoformat(),
        "issued_to": (T0 + timedelta(minutes=25)).isoformat(),
    })  # fmt: skip
    # When the worker runs the export
    (result,) = harness.run_to_end(harness.task(job))
    # Then the ZIP holds those 20 XMLs, each identical to its stored object, and nothing else
    assert result["outcome"] == Outcome.FINISHED
    archive = open_zip(harness.zip_bytes(job))
    expected = {d.access_key: hashlib.sha256(seeder.bodies[d.access_key or ""]).hexdigest() for d in selected}
    assert xml_entries(archive) == expected
    assert set(archive.namelist()) == {f"11222333000181/NFE/2025-03/{k}.xml" for k in expected} | {
        "documentos.csv",
        "documentos.xlsx",
    }
    for d in selected:  # and each entry is the very object the record points at
        stored = seeder.s3.get_object(Bucket=DOCS_BUCKET, Key=d.s3_key)["Body"].read()
        assert archive.read(f"11222333000181/NFE/2025-03/{d.access_key}.xml") == stored
    # And the spreadsheet rows are the records, in issue order
    rows = csv_rows(archive)
    assert [r["access_key"] for r in rows] == [d.access_key for d in selected]
    assert [(r["number"], r["total_value"], r["issuer_doc"], r["sha256"]) for r in rows] == [
        (str(d.number), str(d.total_value), d.issuer_doc, d.sha256) for d in selected
    ]
    assert all(r["file"].endswith(f"{r['access_key']}.xml") and r["note"] == "" for r in rows)
    sheet = xlsx_rows(archive)
    assert sheet[0]["A"] == "file" and len(sheet) == 21
    assert [row["H"] for row in sheet[1:]] == [d.access_key for d in selected]
    assert [float(row["O"]) for row in sheet[1:]] == [float(d.total_value or 0) for d in selected]
    # And the job says so
    done = harness.jobs.get(job.account_id, job.export_id)
    assert (done.status, done.progress, done.total_docs, done.processed_docs, done.failed_docs) == (
        ExportStatus.SUCCEEDED, 100, 20, 20, 0,
    )  # fmt: skip
    assert done.size_bytes == len(harness.zip_bytes(job))
    assert harness.unfinished_uploads() == [] and harness.work_objects(job) == []


def test_progress_rises_monotonically_to_100(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    for n in range(1, 51):
        seeder.document(company, n, size=300)
    job = harness.job({"company_id": company})
    harness.run_to_end(harness.task(job))
    seen = harness.jobs.seen
    assert seen == sorted(seen) and seen[-1] == 100
    assert len(seen) >= 50  # at least every 2%: 50 documents, a write for each
    assert max(b - a for a, b in zip([0, *seen], seen, strict=False)) <= 2


def test_documents_without_their_xml_are_listed_not_zipped(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    good = seeder.document(company, 1)
    summary = seeder.document(company, 2, kind=DocKind.SUMMARY)
    missing = seeder.document(company, 3, store_body=False)
    tampered = seeder.document(company, 4)
    seeder.s3.put_object(Bucket=DOCS_BUCKET, Key=tampered.s3_key, Body=b"<changed/>")
    job = harness.job({"company_id": company})
    harness.run_to_end(harness.task(job))
    archive = open_zip(harness.zip_bytes(job))
    assert set(xml_entries(archive)) == {good.access_key}
    notes = {r["access_key"]: (r["file"], r["note"]) for r in csv_rows(archive)}
    assert notes[str(good.access_key)] == (f"11222333000181/NFE/2025-03/{good.access_key}.xml", "")
    assert notes[str(summary.access_key)][0] == "" and "summary" in notes[str(summary.access_key)][1]
    assert "missing from storage" in notes[str(missing.access_key)][1]
    assert "SHA-256" in notes[str(tampered.access_key)][1]
    done = harness.jobs.get(job.account_id, job.export_id)
    assert (done.status, done.processed_docs, done.failed_docs, done.progress) == (
        ExportStatus.SUCCEEDED,
        1,
        3,
        100,
    )
    assert len(done.errors) == 3 and all(e.startswith(("352503", "35")) for e in done.errors)


def test_events_and_pdfs_go_next_to_their_document(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    cancelled, plain, cached = (seeder.document(company, n) for n in (1, 2, 3))
    event_xml = seeder.cancellation(cancelled)
    assert cached.s3_key is not None
    seeder.s3.put_object(Bucket=DOCS_BUCKET, Key=cached.s3_key.replace(".xml", ".pdf"), Body=b"%PDF-cached")
    rendered: list[bytes] = []

    def render(doc_type: object, xml: bytes) -> bytes:
        rendered.append(xml)
        return b"%PDF-rendered"

    harness.renderer = render
    job = harness.job(
        {"company_id": company}, {"include_events": True, "include_pdfs": True, "layout": "flat"}
    )
    harness.run_to_end(harness.task(job))
    archive = open_zip(harness.zip_bytes(job))
    assert archive.read(f"{cancelled.access_key}-110111-001.xml") == event_xml
    assert archive.read(f"{plain.access_key}.pdf") == b"%PDF-rendered"
    assert archive.read(f"{cached.access_key}.pdf") == b"%PDF-cached"  # the API's rendering, reused
    assert len(rendered) == 2  # the cached one was not drawn again
    rows = {r["access_key"]: r for r in csv_rows(archive)}
    assert rows[str(cancelled.access_key)]["events"] == "1" and rows[str(plain.access_key)]["events"] == "0"
    assert rows[str(plain.access_key)]["pdf"] == f"{plain.access_key}.pdf"
    assert rows[str(cancelled.access_key)]["status"] == "CANCELLED"


def test_an_empty_selection_finishes_with_a_zip_of_bare_spreadsheets(
    harness: Harness, seeder: Seeder
) -> None:
    company = seeder.company()
    seeder.document(company, 1)
    job = harness.job({"company_id": company, "issued_from": "2030-01-01"})
    (result,) = harness.run_to_end(harness.task(job))
    assert result["outcome"] == Outcome.FINISHED
    archive = open_zip(harness.zip_bytes(job))
    assert archive.namelist() == ["documentos.csv", "documentos.xlsx"]
    assert csv_rows(archive) == [] and archive.read("documentos.csv").startswith(b"file,company_cnpj,")
    assert [row["A"] for row in xlsx_rows(archive)] == ["file"]
    done = harness.jobs.get(job.account_id, job.export_id)
    assert (done.status, done.total_docs, done.processed_docs, done.progress) == (
        ExportStatus.SUCCEEDED,
        0,
        0,
        100,
    )


def test_an_account_wide_export_reads_every_company_into_its_folder(harness: Harness, seeder: Seeder) -> None:
    co1, co2 = seeder.company("co1"), seeder.company("co2", cnpj="04252011000110")
    first, second = seeder.document(co1, 1), seeder.document(co2, 1)  # the same key under both companies
    job = harness.job({}, {"layout": "company"})
    harness.run_to_end(harness.task(job))
    names = set(open_zip(harness.zip_bytes(job)).namelist())
    assert {f"11222333000181/{first.access_key}.xml", f"04252011000110/{second.access_key}.xml"} <= names
