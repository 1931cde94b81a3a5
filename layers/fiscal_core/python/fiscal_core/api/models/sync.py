"""Bodies of the sync resource: starting a sync, its runs, and where each family stands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from fiscal_core.api.models.identity import Request
from fiscal_core.model import Model
from fiscal_core.storage.records import Family

# The families with a distribution FiscalMix reads (fiscal_core.sync.policy.SYNCED_FAMILIES).
SyncFamily = Literal["NFE", "CTE", "NFSE"]


class SyncRequest(Request):
    """What to sync; every family the company syncs when ``families`` is left out."""

    families: list[SyncFamily] | None = Field(
        default=None, min_length=1, max_length=3, description="NFE, CTE, NFSE; default all three."
    )


class StartedExecution(Model):
    """One family's sync execution, started."""

    family: Family
    name: str = Field(description="The Step Functions execution's name (also the run's lease owner).")


class SkippedFamily(Model):
    """A family that was not started, and when it may be."""

    family: Family
    reason: str = Field(description="Why, in plain words.")
    retry_at: datetime | None = Field(description="When a sync may be started again (null: when it ends).")


class SyncStarted(Model):
    """A sync request accepted: its executions run now; their runs appear in ``/sync-runs``."""

    execution: str = Field(
        description="This request's id; each family's execution is named user-<family>-<execution>."
    )
    families: list[Family] = Field(description="The families started.")
    executions: list[StartedExecution]
    skipped: list[SkippedFamily] = Field(
        default=[], description="Families asked for (or synced by default) that must wait."
    )


class RunCounters(Model):
    """What a run fetched and stored."""

    pages: int
    docs_found: int
    docs_saved: int
    events_saved: int


class SyncRunOut(Model):
    """One sync run of a company."""

    run_id: str
    family: Family
    trigger: str = Field(description="SCHEDULE or USER.")
    status: str = Field(description="RUNNING, SUCCEEDED, WAITING (stopped by SEFAZ's rules) or FAILED.")
    started_at: datetime
    finished_at: datetime | None
    requested_by: str | None = Field(description="The user who started a USER run.")
    first_nsu: str | None
    last_nsu: str | None
    counters: RunCounters
    error_code: str | None
    error_summary: str | None = Field(description="Why it failed or stopped, in plain words.")


class SyncRunPage(Model):
    """One page of runs, newest first."""

    items: list[SyncRunOut]
    next_cursor: str | None = None


class FamilySyncStatus(Model):
    """Where one family's sync stands; all null but ``family`` before its first run."""

    family: Family
    last_nsu: str | None
    max_nsu: str | None
    next_allowed_at: datetime | None = Field(description="When SEFAZ may be asked again (past: now).")
    running: bool = Field(description="A run holds the cursor now.")
    block_code: str | None = Field(description="Why the sync waits, as a code.")
    block_reason: str | None = Field(description="Why the sync waits, in plain words (null: it does not).")
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None


class SyncStatus(Model):
    """The sync of a company, family by family."""

    company_id: str
    families: list[FamilySyncStatus]
