"""Sync control: start a company's sync on demand, list its runs, show where each family stands.

A user's sync is one Step Functions execution per family, exactly what the hourly fan-out starts
but with ``trigger=USER``: the worker's START takes the cursor's lease and opens the run, so the
run id does not exist when the API answers. The answer names the executions; ``GET
/companies/{id}/sync-runs`` lists their runs as soon as they start. A family whose cursor says
SEFAZ may not be asked yet, or whose lease a run holds, is refused here with the reason in plain
words and the time it will be allowed, instead of starting an execution that would only skip.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Protocol

import boto3
from aws_lambda_powertools.event_handler import Response

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
from fiscal_core.api.problems import PROBLEM_CONTENT_TYPE, Conflict, DependencyUnavailable, problem_for
from fiscal_core.api.roles import company_for
from fiscal_core.container import once_per_container
from fiscal_core.settings import ENV_SYNC_STATE_MACHINE_ARN, get_settings
from fiscal_core.storage.companies import CompanyRole
from fiscal_core.storage.cursor_records import CursorState
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunRecord, SyncRunRepository
from fiscal_core.storage.tables import bind_tables
from fiscal_core.sync.contract import SyncState, Trigger
from fiscal_core.sync.policy import SYNCED_FAMILIES
from fiscal_core.sync.wording import SOURCES, when

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# The order families are started and shown in.
FAMILY_ORDER: Final = tuple(f for f in Family if f in SYNCED_FAMILIES)
ALREADY_RUNNING: Final = "A sync is already running"


class SyncStarter(Protocol):
    """Starts one execution of the sync workflow (Step Functions in production)."""

    def start(self, name: str, state: SyncState) -> str:
        """Start an execution named ``name`` with ``state`` as its input; its ARN."""
        ...


class StepFunctionsStarter:
    """``states:StartExecution`` on the sync state machine the settings name."""

    def __init__(self, client: Callable[[], SFNClient], state_machine_arn: str | None) -> None:
        self._client_factory = client
        self._arn = state_machine_arn

    def start(self, name: str, state: SyncState) -> str:
        """Start the execution; DependencyUnavailable (503) when no state machine is configured."""
        if not self._arn:
            raise DependencyUnavailable(f"{ENV_SYNC_STATE_MACHINE_ARN} is not set on the API function")
        answer = self._client.start_execution(
            stateMachineArn=self._arn, name=name, input=json.dumps(state.model_dump(mode="json"))
        )
        return answer["executionArn"]

    @cached_property
    def _client(self) -> SFNClient:
        return self._client_factory()


class SyncServices:
    """The sync resource's adapters: the runs table and the workflow starter."""

    def __init__(self, *, starter: SyncStarter, runs: SyncRunRepository | None = None) -> None:
        self.starter = starter
        self.runs = runs or SyncRunRepository()


@once_per_container
def get_sync_services() -> SyncServices:
    """The process's sync services: settings read and tables bound once per cold start."""
    settings = get_settings()
    bind_tables(settings.table_prefix)  # idempotent: the API's other services bind the same

    def client() -> SFNClient:
        return boto3.client(
            "stepfunctions", region_name=settings.region, endpoint_url=settings.aws_endpoint_url
        )

    return SyncServices(starter=StepFunctionsStarter(client, settings.sync_state_machine_arn))


class SyncRefused(Conflict):
    """No requested family may be synced now; ``retry_at`` says when one may (None: when a run ends)."""

    def __init__(self, detail: str, retry_at: datetime | None) -> None:
        super().__init__(detail)
        self.retry_at = retry_at


def refusal_response(exc: SyncRefused, instance: str) -> Response[str]:
    """The 409 problem of a refused sync, with ``retry_at`` (ISO 8601) as an extension member."""
    body: dict[str, Any] = problem_for(exc, instance).model_dump(mode="json", exclude_none=True)
    body["retry_at"] = exc.retry_at.isoformat() if exc.retry_at is not None else None
    return Response(status_code=exc.status, content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body))


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
