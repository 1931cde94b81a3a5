"""Audit log and export jobs against moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fiscal_core.storage.audit import RETENTION, AuditEntry, AuditRepository
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.exports import ExportRepository, ExportStatus
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.models import AuditLog

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def entry(minutes: int, **changes) -> AuditEntry:
    base = {"account_id": "acc1", "action": "document.download", "entity_type": "document",
            "entity_id": "35250312345678000195550010000012341000012345", "user_id": "u1",
            "ip": "203.0.113.7", "user_agent": "pytest", "details": {"format": "xml"}}  # fmt: skip
    return AuditEntry(at=T0 + timedelta(minutes=minutes), **{**base, **changes})


def test_sortable_ids_sort_by_time():
    ids = [new_sortable_id(T0 + timedelta(milliseconds=ms)) for ms in (0, 1, 1000, 86_400_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == 4
    assert all(len(i) == 26 for i in ids)


def test_audit_lists_by_account_entity_and_user(tables):
    repo = AuditRepository()
    first = repo.record(entry(0))
    repo.record(entry(5, user_id="u2", action="company.update", entity_type="company", entity_id="co1"))
    repo.record(entry(10))
    repo.record(entry(15, account_id="acc2"))
    page = repo.for_account("acc1")
    assert [e.at for e in page.items] == [T0 + timedelta(minutes=m) for m in (10, 5, 0)]
    assert page.items[-1].audit_id == first
    assert page.items[-1].details == {"format": "xml"}
    window = repo.for_account("acc1", start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=10))
    assert [e.action for e in window.items] == ["document.download", "company.update"]
    by_entity = repo.for_entity("acc1", "company", "co1")
    assert [e.user_id for e in by_entity.items] == ["u2"]
    assert len(repo.for_user("acc1", "u1").items) == 2
    stored = next(iter(AuditLog.query("acc1")))
    assert stored.expires_at == T0 + RETENTION


def test_audit_pages(tables):
    repo = AuditRepository()
    for minute in range(5):
        repo.record(entry(minute))
    first = repo.for_account("acc1", limit=3)
    second = repo.for_account("acc1", limit=3, cursor=first.cursor)
    assert len(first.items) == 3
    assert [e.at.minute for e in first.items + second.items] == [4, 3, 2, 1, 0]


def test_export_idempotency_key_creates_one_job(tables):
    repo = ExportRepository(clock=lambda: T0)
    job, created = repo.create("acc1", "u1", {"doc_type": "NFE"}, {"pdf": False}, "key-1")
    again, created_again = repo.create("acc1", "u1", {"doc_type": "NFE"}, {"pdf": False}, "key-1")
    assert (created, created_again) == (True, False)
    assert again.export_id == job.export_id
    other, _ = repo.create("acc2", "u1", {}, {}, "key-1")  # keys are scoped by account
    assert other.export_id != job.export_id
    assert [j.export_id for j in repo.list_exports("acc1").items] == [job.export_id]


def test_expired_idempotency_key_can_be_reused(tables):
    now = {"t": T0}
    repo = ExportRepository(clock=lambda: now["t"])
    first, _ = repo.create("acc1", "u1", {}, {}, "key-1")
    now["t"] = T0 + timedelta(days=2)
    second, created = repo.create("acc1", "u1", {}, {}, "key-1")
    assert created
    assert second.export_id != first.export_id


def test_export_lifecycle(tables):
    now = {"t": T0}
    repo = ExportRepository(clock=lambda: now["t"])
    job, _ = repo.create("acc1", "u1", {"doc_type": "NFE"}, {})
    repo.start("acc1", job.export_id, total_docs=200)
    repo.report_progress("acc1", job.export_id, processed=49, failed=1, size_bytes=1024)
    assert repo.get("acc1", job.export_id).progress == 25
    now["t"] = T0 + timedelta(minutes=3)
    repo.finish("acc1", job.export_id, s3_key="acc1/exports/x.zip", errors=[])
    done = repo.get("acc1", job.export_id)
    assert (done.status, done.progress, done.s3_key) == (ExportStatus.SUCCEEDED, 100, "acc1/exports/x.zip")
    assert done.expires_at == now["t"] + timedelta(days=7)
    failed, _ = repo.create("acc1", "u1", {}, {})
    repo.finish("acc1", failed.export_id, s3_key=None, errors=["S3 unavailable"])
    assert repo.get("acc1", failed.export_id).errors == ["S3 unavailable"]
    with pytest.raises(RecordNotFound):
        repo.start("acc1", "missing", 1)
