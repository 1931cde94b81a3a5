"""Sync runs against moto: counters add up page by page; history lists newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunStatus, SyncRunRepository

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_run_counts_pages_and_keeps_the_first_nsu(tables):
    repo = SyncRunRepository(clock=lambda: T0)
    run = repo.start("acc1", "co1", Family.NFE, "USER", requested_by="u1")
    repo.record_page("acc1", "co1", run.run_id, first_nsu="000000000000001",
                     last_nsu="000000000000050", docs_found=50, docs_saved=48, events_saved=2)  # fmt: skip
    repo.record_page("acc1", "co1", run.run_id, first_nsu="000000000000051",
                     last_nsu="000000000000070", docs_found=20, docs_saved=20, events_saved=0)  # fmt: skip
    repo.finish("acc1", "co1", run.run_id, RunStatus.WAITING, error_code="137",
                error_summary="Nenhum documento localizado")  # fmt: skip
    got = repo.get("acc1", "co1", run.run_id)
    assert (got.pages, got.docs_found, got.docs_saved, got.events_saved) == (2, 70, 68, 2)
    assert (got.first_nsu, got.last_nsu) == ("000000000000001", "000000000000070")
    assert (got.status, got.error_code, got.finished_at) == ("WAITING", "137", T0)


def test_runs_are_listed_newest_first_per_company(tables):
    now = {"t": T0}
    repo = SyncRunRepository(clock=lambda: now["t"])
    ids = []
    for hour in range(3):
        now["t"] = T0 + timedelta(hours=hour)
        ids.append(repo.start("acc1", "co1", Family.NFE, "SCHEDULE").run_id)
    repo.start("acc1", "co2", Family.NFE, "SCHEDULE")
    page = repo.list_runs("acc1", "co1", limit=2)
    rest = repo.list_runs("acc1", "co1", cursor=page.cursor)
    assert [r.run_id for r in page.items + rest.items] == ids[::-1]
    with pytest.raises(RecordNotFound):
        repo.finish("acc1", "co1", "missing", RunStatus.FAILED)
