"""Sync control: start a company's sync on demand, list its runs, show where each family stands.

A user's sync is one Step Functions execution per family, exactly what the scheduled fan-out starts
but with ``trigger=USER``: the worker's START takes the cursor's lease and opens the run, so the
run id does not exist when the API answers. The answer names the executions; ``GET
/companies/{id}/sync-runs`` lists their runs as soon as they start. A family whose cursor says
SEFAZ may not be asked yet, or whose lease a run holds, is refused here with the reason in plain
words and the time it will be allowed, instead of starting an execution that would only skip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.sync import (
    FamilySyncStatus,
    RunCounters,
    SkippedFamily,
    StartedExecution,
    SyncRequest,
    SyncRunOut,
    SyncRunPage,
    SyncStarted,
    SyncStatus,
)
from fiscal_core.api.problems import Conflict
from fiscal_core.api.roles import company_for
from fiscal_core.api.sync_services import SyncRefused, SyncServices
from fiscal_core.storage.companies import CompanyRole
from fiscal_core.storage.cursor_records import CursorState
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunRecord
from fiscal_core.sync.contract import SyncState, Trigger
from fiscal_core.sync.policy import SYNCED_FAMILIES
from fiscal_core.sync.wording import SOURCES, when

if TYPE_CHECKING:
    pass

# The order families are started and shown in.
FAMILY_ORDER: Final = tuple(f for f in Family if f in SYNCED_FAMILIES)
ALREADY_RUNNING: Final = "A sync is already running"


def start_sync(
    ctx: RequestContext, sync: SyncServices, company_id: str, body: SyncRequest | None
) -> SyncStarted:
    """Start the sync of the families asked for (operators and up); audited.

    Families that must wait are reported in ``skipped``; when none can start, SyncRefused (409).
    """
    company = company_for(ctx, company_id, CompanyRole.OPERATOR, "start a sync")
    if not company.active:
        raise Conflict("This company is deactivated, so it is not synced; activate it first.")
    asked = {Family(f) for f in body.families} if body is not None and body.families else set(FAMILY_ORDER)
    families = [f for f in FAMILY_ORDER if f in asked]
    skipped = [s for s in (_refusal(ctx, company_id, f) for f in families) if s is not None]
    ready = [f for f in families if f not in {s.family for s in skipped}]
    if not ready:
        raise _refused(skipped)
    request_id = new_sortable_id(ctx.now).lower()
    started = []
    for family in ready:
        name = f"user-{family.value.lower()}-{request_id}"
        # The name is also the lease owner: a START retried after a crash reclaims its own lease.
        state = SyncState(
            account_id=ctx.account_id, company_id=company_id, family=family, trigger=Trigger.USER,
            user_id=ctx.user.user_id, lease_owner=name,
        )  # fmt: skip
        sync.starter.start(name, state)
        started.append(StartedExecution(family=family, name=name))
    ctx.audit(
        "company.sync", "company", company_id,
        {"execution": request_id, "families": ready, "skipped": [s.family for s in skipped]},
        company_id=company_id,
    )  # fmt: skip
    return SyncStarted(execution=request_id, families=ready, executions=started, skipped=skipped)


def list_runs(
    ctx: RequestContext, sync: SyncServices, company_id: str, limit: int, cursor: str | None
) -> SyncRunPage:
    """One page of the company's sync runs, newest first (viewers and up)."""
    company_for(ctx, company_id, CompanyRole.VIEWER, "see its sync runs")
    page = sync.runs.list_runs(ctx.account_id, company_id, limit=limit, cursor=cursor)
    return SyncRunPage(items=[_run_out(r) for r in page.items], next_cursor=page.cursor)


def sync_status(ctx: RequestContext, company_id: str) -> SyncStatus:
    """Where each synced family of the company stands (viewers and up)."""
    company_for(ctx, company_id, CompanyRole.VIEWER, "see its sync status")
    families = []
    for family in FAMILY_ORDER:
        cursor = _cursor(ctx, company_id, family)
        if cursor is None:
            families.append(
                FamilySyncStatus(
                    family=family,
                    last_nsu=None,
                    max_nsu=None,
                    next_allowed_at=None,
                    running=False,
                    block_code=None,
                    block_reason=None,
                    last_error=None,
                    last_error_at=None,
                    last_success_at=None,
                )
            )
            continue
        waiting = cursor.next_allowed_at > ctx.now
        families.append(
            FamilySyncStatus(
                family=family,
                last_nsu=cursor.last_nsu,
                max_nsu=cursor.max_nsu,
                next_allowed_at=cursor.next_allowed_at,
                running=not cursor.lease_expired(ctx.now),
                block_code=cursor.block_reason if waiting else None,
                block_reason=_wait_reason(cursor) if waiting else None,
                last_error=cursor.last_error,
                last_error_at=cursor.last_error_at,
                last_success_at=cursor.last_success_at,
            )
        )
    return SyncStatus(company_id=company_id, families=families)


def _refusal(ctx: RequestContext, company_id: str, family: Family) -> SkippedFamily | None:
    """Why ``family`` may not start now, or None when it may (also when it never ran)."""
    cursor = _cursor(ctx, company_id, family)
    if cursor is None:
        return None  # the worker's START creates the cursor at NSU zero
    if not cursor.lease_expired(ctx.now):
        return SkippedFamily(
            family=family,
            reason=f"{ALREADY_RUNNING} with {SOURCES[family]}; its run is listed in sync-runs.",
            retry_at=None,
        )
    if cursor.next_allowed_at > ctx.now:
        return SkippedFamily(family=family, reason=_wait_reason(cursor), retry_at=cursor.next_allowed_at)
    return None


def _refused(skipped: list[SkippedFamily]) -> SyncRefused:
    """The 409 when every family must wait: the reasons, and the earliest time one may start."""
    if all(s.retry_at is None for s in skipped):
        return SyncRefused(f"{ALREADY_RUNNING} for this company; wait for it to finish.", None)
    detail = " ".join(s.reason for s in skipped)
    return SyncRefused(detail, min(s.retry_at for s in skipped if s.retry_at is not None))


def _wait_reason(cursor: CursorState) -> str:
    """Why the cursor waits, in plain words: the worker's own text, else when it ends."""
    if cursor.block_detail:
        return cursor.block_detail
    return (
        f"{SOURCES[cursor.family]} may be queried for this company again at {when(cursor.next_allowed_at)}."
    )


def _cursor(ctx: RequestContext, company_id: str, family: Family) -> CursorState | None:
    try:
        return ctx.services.cursors.get(ctx.account_id, company_id, family)
    except RecordNotFound:
        return None


def _run_out(run: RunRecord) -> SyncRunOut:
    return SyncRunOut(
        run_id=run.run_id,
        family=Family(run.family),
        trigger=run.trigger,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        requested_by=run.requested_by,
        first_nsu=run.first_nsu,
        last_nsu=run.last_nsu,
        counters=RunCounters(
            pages=run.pages,
            docs_found=run.docs_found,
            docs_saved=run.docs_saved,
            events_saved=run.events_saved,
        ),
        error_code=run.error_code,
        error_summary=run.error_summary,
    )
