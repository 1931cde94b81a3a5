"""``/companies/{id}/sync``, ``/sync-runs``, ``/sync-status``: start a sync, its history, its state."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.sync import SyncRequest, SyncRunPage, SyncStarted, SyncStatus
from fiscal_core.api.openapi import responses
from fiscal_core.api.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from fiscal_core.api.sync_services import SyncRefused, SyncServices, get_sync_services, refusal_response
from functions.api.router import resource_router

router = resource_router()
CompanyId = Annotated[str, Path(min_length=1, max_length=64)]
Sync = Annotated[SyncServices, Depends(get_sync_services)]


def _refused(exc: SyncRefused) -> Response[str]:
    return refusal_response(exc, router.current_event.raw_path)


# Registered by call rather than as a decorator: Powertools' decorators are untyped.
router.exception_handler(SyncRefused)(_refused)


@router.post(
    "/companies/<company_id>/sync",
    tags=["sync"],
    status_code=202,
    responses=responses(403, 404, 409, success=202, description="Started"),
)
def start_sync(
    ctx: Ctx, sync_services: Sync, company_id: CompanyId, body: SyncRequest | None = None
) -> SyncStarted:
    """Start the company's sync now (operators); 409 with retry_at when SEFAZ may not be asked yet.

    One execution per family; their runs appear in sync-runs once the workflow opens them.
    """
    from fiscal_core.api import sync

    return sync.start_sync(ctx, sync_services, company_id, body)


@router.get("/companies/<company_id>/sync-runs", tags=["sync"], responses=responses(403, 404))
def list_sync_runs(
    ctx: Ctx,
    sync_services: Sync,
    company_id: CompanyId,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> SyncRunPage:
    """The company's sync runs, newest first, with their counters and why any failed."""
    from fiscal_core.api import sync

    return sync.list_runs(ctx, sync_services, company_id, limit, cursor)


@router.get("/companies/<company_id>/sync-status", tags=["sync"], responses=responses(403, 404))
def get_sync_status(ctx: Ctx, company_id: CompanyId) -> SyncStatus:
    """Per family: last and max NSU, when SEFAZ may be asked again and why not, last error and success."""
    from fiscal_core.api import sync

    return sync.sync_status(ctx, company_id)
