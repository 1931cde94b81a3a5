"""Sync runs: one record per execution, counted page by page, listed newest first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from fiscal_core.storage import crud
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.errors import RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.mapping import record_from
from fiscal_core.storage.models import SyncRun
from fiscal_core.storage.records import Family, Page

RETENTION: Final = timedelta(days=180)


class RunStatus(StrEnum):
    """How a run ended, or that it is still going."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    WAITING = "WAITING"  # stopped by SEFAZ's rules (caught up, 137, 656) until next_allowed_at
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A sync run as the company's history shows it."""

    account_id: str
    company_id: str
    run_id: str
    family: str
    trigger: str  # SCHEDULE | USER
    status: str
    started_at: datetime
    requested_by: str | None = None
    execution_arn: str | None = None
    finished_at: datetime | None = None
    first_nsu: str | None = None
    last_nsu: str | None = None
    pages: int = 0
    docs_found: int = 0
    docs_saved: int = 0
    events_saved: int = 0
    error_code: str | None = None
    error_summary: str | None = None


class SyncRunRepository:
    """Start, count, finish and list the sync runs of a company."""

    def __init__(
        self, clock: Callable[[], datetime] = utc_now, id_factory: Callable[[datetime], str] = new_sortable_id
    ) -> None:
        self._clock = clock
        self._new_id = id_factory

    def start(
        self,
        account_id: str,
        company_id: str,
        family: Family,
        trigger: str,
        *,
        requested_by: str | None = None,
        execution_arn: str | None = None,
    ) -> RunRecord:
        """Record a run as started; its record (with the new run id)."""
        now = self._clock()
        item = SyncRun(
            company_key(account_id, company_id), self._new_id(now), account_id=account_id,
            company_id=company_id, family=family.value, trigger=trigger,
            requested_by=requested_by, status=RunStatus.RUNNING, execution_arn=execution_arn,
            started_at=now, expires_at=now + RETENTION,
        )  # fmt: skip
        crud.create(item, "sync run")
        return record_from(item, RunRecord)

    def record_page(
        self, account_id: str, company_id: str, run_id: str, *, first_nsu: str, last_nsu: str,
        docs_found: int, docs_saved: int, events_saved: int,
    ) -> None:  # fmt: skip
        """Add one stored page to the run's counters."""
        self._update(account_id, company_id, run_id, [
            SyncRun.pages.add(1), SyncRun.docs_found.add(docs_found),
            SyncRun.docs_saved.add(docs_saved), SyncRun.events_saved.add(events_saved),
            SyncRun.first_nsu.set(SyncRun.first_nsu | first_nsu), SyncRun.last_nsu.set(last_nsu),
        ])  # fmt: skip

    def finish(
        self, account_id: str, company_id: str, run_id: str, status: RunStatus, *,
        error_code: str | None = None, error_summary: str | None = None,
    ) -> None:  # fmt: skip
        """Close a run with how it ended and, if it failed, why."""
        actions: list[Action] = [SyncRun.status.set(status), SyncRun.finished_at.set(self._clock())]
        if error_code is not None:
            actions.append(SyncRun.error_code.set(error_code))
        if error_summary is not None:
            actions.append(SyncRun.error_summary.set(error_summary))
        self._update(account_id, company_id, run_id, actions)

    def get(self, account_id: str, company_id: str, run_id: str) -> RunRecord:
        """One run, or RecordNotFound."""
        item = crud.get(SyncRun, company_key(account_id, company_id), run_id, f"sync run {run_id}")
        return record_from(item, RunRecord)

    def list_runs(
        self, account_id: str, company_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[RunRecord]:
        """One page of the company's runs, newest first."""
        items, next_cursor = crud.query_page(
            SyncRun, company_key(account_id, company_id), what="sync runs", limit=limit,
            cursor=cursor, newest_first=True,
        )  # fmt: skip
        return Page([record_from(i, RunRecord) for i in items], next_cursor)

    def _update(self, account_id: str, company_id: str, run_id: str, actions: Sequence[Action]) -> None:
        item = SyncRun(company_key(account_id, company_id), run_id)
        with storage_call("update a sync run"):
            try:
                item.update(list(actions), condition=SyncRun.run_id.exists())
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                raise RecordNotFound(f"sync run {run_id} was not found") from exc
