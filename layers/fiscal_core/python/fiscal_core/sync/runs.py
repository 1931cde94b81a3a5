"""The run's record as the company's history shows it: started, counted answer by answer, ended.

Counters are added to the run record as each answer is stored (``record_page`` adds atomically),
so the history is right even for a run that later dies; the workflow's state carries the same
counters for the execution's output. Runs a user started are also written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from fiscal_core.storage.audit import AuditEntry, AuditRepository
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.sync_runs import RunRecord, RunStatus, SyncRunRepository
from fiscal_core.sync.contract import SyncCounters, SyncState, Trigger
from fiscal_core.sync.page_store import PageCounts

AUDIT_ENTITY: Final = "sync_run"


class RunBook:
    """Start, count and end the runs of the sync, and audit the ones users start."""

    def __init__(
        self, runs: SyncRunRepository, audit: AuditRepository | None, clock: Callable[[], datetime]
    ) -> None:
        self._runs = runs
        self._audit = audit
        self._clock = clock

    def start(self, state: SyncState) -> RunRecord:
        """Open a run for ``state``'s company and family."""
        run = self._runs.start(
            state.account_id, state.company_id, state.family, state.trigger.value.upper(),
            requested_by=state.user_id,
        )  # fmt: skip
        self._audit_user_run(state, run.run_id, "sync.run.started", {})
        return run

    def count(self, state: SyncState, counts: PageCounts, *, first_nsu: str, last_nsu: str) -> SyncState:
        """Add one stored answer to the run; the state with the same counters added."""
        assert state.run_id is not None
        self._runs.record_page(
            state.account_id, state.company_id, state.run_id, first_nsu=first_nsu, last_nsu=last_nsu,
            docs_found=counts.docs_found, docs_saved=counts.docs_saved, events_saved=counts.events_saved,
        )  # fmt: skip
        before = state.counters
        counters = SyncCounters(
            pages=before.pages + 1,
            docs_found=before.docs_found + counts.docs_found,
            docs_saved=before.docs_saved + counts.docs_saved,
            events_saved=before.events_saved + counts.events_saved,
        )
        return state.model_copy(update={"counters": counters})

    def end(
        self, state: SyncState, status: RunStatus, summary: str | None, *, error_code: str | None = None
    ) -> None:
        """Close the run with how it ended and, in plain words, why (once: a closed run stays so)."""
        if state.run_id is None:
            return
        try:
            run = self._runs.get(state.account_id, state.company_id, state.run_id)
        except RecordNotFound:
            return
        if run.status != RunStatus.RUNNING:
            return
        self._runs.finish(
            state.account_id, state.company_id, state.run_id, status,
            error_code=error_code, error_summary=summary,
        )  # fmt: skip
        details = {"status": status.value, "summary": summary, **state.counters.model_dump()}
        self._audit_user_run(state, state.run_id, "sync.run.finished", details)

    def _audit_user_run(self, state: SyncState, run_id: str, action: str, details: dict[str, object]) -> None:
        if self._audit is None or state.trigger is not Trigger.USER:
            return
        self._audit.record(
            AuditEntry(
                account_id=state.account_id,
                action=action,
                entity_type=AUDIT_ENTITY,
                entity_id=run_id,
                at=self._clock(),
                user_id=state.user_id,
                company_id=state.company_id,
                details={"family": state.family.value, **details},
            )
        )
