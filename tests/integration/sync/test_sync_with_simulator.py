"""The sync worker against the SEFAZ simulator: every document once, rules never broken.

A company with about 300 documents (NF-e summaries, full notes, CT-e, NFS-e, cancellations,
CC-e, MDF-e registrations) is synced through the Lambda handler, task by task; automatic Ciência
releases the full XML of its summaries, which the next run brings; the simulator's ledger of
broken rules stays empty throughout.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest

from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.models import Document, DocumentEvent
from fiscal_core.storage.records import DocKind, DocStatus, Family
from fiscal_core.storage.sync_runs import RunStatus, SyncRunRepository
from fiscal_core.sync.contract import Next, Trigger
from fiscal_core.sync.crash import CrashAt, CrashPoint
from local.demo import seed_demo_documents
from local.sefaz import FaultKind, SeededCompany, Service, Story
from local.sefaz.store import Item
from tests.integration.sync.conftest import SyncPlane, objects

pytestmark = pytest.mark.slow
DOCUMENT_SCHEMAS = {"resNFe_v1.01.xsd", "procNFe_v4.00.xsd", "procCTe_v4.00.xsd", "NFSe_v1.01.xsd"}
QUEUES = {Service.NFE_DIST: Family.NFE, Service.CTE_DIST: Family.CTE, Service.ADN_DIST: Family.NFSE}


def _sync_all(plane: SyncPlane) -> None:
    for family in (Family.NFE, Family.CTE, Family.NFSE):
        end = plane.sync(family)
        assert end.next is Next.FINISH, end.message


def _expected(plane: SyncPlane, arrived: Sequence[bytes] | None = None) -> tuple[set[str], int, int]:
    """The keys SEFAZ queued, how many items it served, and how many summaries a full XML upgraded.

    A summary is upgraded when its full XML reaches FiscalMix after it: in NSU order, unless
    ``arrived`` (every docZip's XML in the order FiscalMix received them) says otherwise, as when a
    lost page's NSUs are fetched one by one after the stream has moved past them.
    """
    keys, served, upgrades = set(), 0, 0
    logged: dict[bytes, Item] = {}
    for service in QUEUES:
        items = plane.sefaz.engine.log(service, plane.tenant.cnpj).items()
        served += len(items)
        keys |= {item.key for item in items if item.schema in DOCUMENT_SCHEMAS and item.key}
        logged |= {item.xml: item for item in items}
    if arrived is None:
        order = list(logged.values())
    else:
        assert all(xml in logged for xml in arrived), "every docZip received is one SEFAZ queued"
        order = [logged[xml] for xml in arrived]
    first_kind: dict[str, str] = {}
    for item in order:
        if item.schema in DOCUMENT_SCHEMAS and item.key:
            if first_kind.get(item.key) == "resNFe_v1.01.xsd" and item.schema == "procNFe_v4.00.xsd":
                upgrades += 1
            first_kind.setdefault(item.key, item.schema)
    return keys, served, upgrades


def _check_everything_once(
    plane: SyncPlane,
    seeded: SeededCompany,
    run_statuses: frozenset[str] = frozenset({RunStatus.SUCCEEDED}),
    arrived: Sequence[bytes] | None = None,
) -> None:
    tenant = plane.tenant
    partition = f"{tenant.account_id}#{tenant.company_id}"
    documents = list(Document.query(partition))
    events = [e for e in DocumentEvent.scan() if e.account_id == tenant.account_id]
    keys, served, upgrades = _expected(plane, arrived)
    assert sorted(d.access_key or "" for d in documents) == sorted(keys)  # each exactly once

    stored = objects(plane.aws, f"{tenant.account_id}/{tenant.company_id}/")
    referenced = {d.s3_key: d.sha256 for d in documents if d.s3_key}
    referenced |= {e.s3_key: e.sha256 for e in events if e.s3_key}
    assert set(referenced) == {key for key in stored if "/sync/" not in key}
    for key, sha256 in referenced.items():
        assert hashlib.sha256(stored[key]).hexdigest() == sha256, key

    cancelled = set(seeded.keys.get(Story.CANCELLED, []))
    by_key = {d.access_key: d for d in documents}
    assert all(by_key[k].status == DocStatus.CANCELLED for k in cancelled)
    # Every summary got its full XML, except those cancelled before the Ciência could be sent.
    assert all(d.status == DocStatus.CANCELLED for d in documents if d.kind == DocKind.SUMMARY)

    runs = SyncRunRepository().list_runs(tenant.account_id, tenant.company_id, limit=100).items
    totals = Counter[str]()
    for run in runs:
        assert run.status in run_statuses, run.error_summary
        totals.update(docs_found=run.docs_found, docs_saved=run.docs_saved, events_saved=run.events_saved)
    assert totals["docs_found"] == served
    assert totals["docs_saved"] == len(documents) + upgrades
    assert totals["events_saved"] == len(events)
    assert not plane.sefaz.ledger, plane.sefaz.ledger.describe()


def test_a_company_is_synced_exactly_once_and_its_summaries_upgraded(plane: SyncPlane) -> None:
    seeded = seed_demo_documents(plane.sefaz, plane.tenant, documents=200, nfse_documents=10, issued=3)
    assert sum(seeded.queued.values()) >= 280

    _sync_all(plane)
    first = DocumentRepository().list_pending_summaries(
        plane.tenant.account_id, plane.tenant.company_id, limit=200
    )
    assert first.items, "summaries wait for their full XML after the first run"
    assert 2 in plane.waits  # the courtesy pause between pages is a WAIT the workflow honours

    # Past the release delay, the story events still to come, and SEFAZ's hour.
    plane.sefaz.clock.advance(timedelta(hours=27))
    _sync_all(plane)

    _check_everything_once(plane, seeded)
    summaries = [
        k for story in (Story.SUMMARY, Story.CORRECTED, Story.MDFE_EVENT) for k in seeded.keys.get(story, [])
    ]
    repository = DocumentRepository()
    upgraded = [
        repository.get_document(plane.tenant.account_id, plane.tenant.company_id, access_key=k)
        for k in summaries
    ]
    assert all(d is not None and d.kind is DocKind.FULL for d in upgraded)


def test_a_second_start_for_the_same_company_is_refused_and_does_nothing(plane: SyncPlane) -> None:
    seed_demo_documents(plane.sefaz, plane.tenant, documents=20, nfse_documents=0, issued=0)
    running = plane.start()
    assert running.next is Next.FETCH

    second = plane.start(trigger=Trigger.USER)

    assert second.next is Next.SKIP
    assert "already running" in (second.message or "")
    assert plane.sefaz.engine.usage(Service.NFE_DIST, plane.tenant.cnpj).last_ult_nsu is None  # no call yet
    end = plane.drive(running)
    assert end.next is Next.FINISH
    assert not plane.sefaz.ledger, plane.sefaz.ledger.describe()


def test_a_run_within_the_hour_after_catching_up_does_not_call_sefaz(plane: SyncPlane) -> None:
    seed_demo_documents(plane.sefaz, plane.tenant, documents=30, nfse_documents=0, issued=0)
    plane.sync()
    usage = plane.sefaz.engine.usage(Service.NFE_DIST, plane.tenant.cnpj)
    quiet_until = usage.quiet_until

    plane.sefaz.clock.advance(timedelta(minutes=40))
    again = plane.sync(trigger=Trigger.USER)

    assert again.next is Next.SKIP
    assert "may be queried" in (again.message or "")
    assert usage.quiet_until == quiet_until
    assert not plane.sefaz.ledger, plane.sefaz.ledger.describe()


def test_a_crash_after_the_page_arrived_replays_it_instead_of_asking_sefaz_again(plane: SyncPlane) -> None:
    seeded = seed_demo_documents(plane.sefaz, plane.tenant, documents=45, nfse_documents=0, issued=0)
    plane.use_crash(CrashAt(CrashPoint.AFTER_RECORD_WRITE))

    end = plane.sync()

    assert end.next is Next.FINISH
    # Asking again for the same ultNSU would have earned a 656 (and an hour's block).
    assert not plane.sefaz.ledger, plane.sefaz.ledger.describe()
    keys = {
        item.key or "" for item in plane.sefaz.engine.log(Service.NFE_DIST, plane.tenant.cnpj).items()
        if item.schema in DOCUMENT_SCHEMAS
    }  # fmt: skip
    partition = f"{plane.tenant.account_id}#{plane.tenant.company_id}"
    assert sorted(d.access_key or "" for d in Document.query(partition)) == sorted(keys)
    assert seeded.total(Service.NFE_DIST) >= len(keys)


def test_an_answer_lost_on_the_way_is_recovered_one_nsu_at_a_time(plane: SyncPlane) -> None:
    seed_demo_documents(plane.sefaz, plane.tenant, documents=12, nfse_documents=0, issued=0)
    # SEFAZ answers the first page, but the connection drops before the answer arrives: the
    # client's retry then asks for the same ultNSU and SEFAZ, which moved on, answers 656.
    plane.sefaz.faults.inject(Service.NFE_DIST, FaultKind.RESET, processed=True)

    blocked = plane.sync()

    assert blocked.next is Next.FINISH
    assert [v.cstat for v in plane.sefaz.ledger] == ["656"]  # the one resend nobody could avoid
    plane.sefaz.ledger.clear()
    filled_per_hour = []
    for _ in range(2):  # at most 20 consNSU an hour (the unit tests cover longer gaps)
        plane.sefaz.clock.advance(timedelta(hours=1, minutes=10))
        plane.sync()
        usage = plane.sefaz.engine.usage(Service.NFE_DIST, plane.tenant.cnpj)
        filled_per_hour.append(len(usage.single_queries))

    assert all(count <= 20 for count in filled_per_hour)
    assert not plane.sefaz.ledger, plane.sefaz.ledger.describe()
    keys = {
        item.key or "" for item in plane.sefaz.engine.log(Service.NFE_DIST, plane.tenant.cnpj).items()
        if item.schema in DOCUMENT_SCHEMAS
    }  # fmt: skip
    partition = f"{plane.tenant.account_id}#{plane.tenant.company_id}"
    assert sorted(d.access_key or "" for d in Document.query(partition)) == sorted(keys)
