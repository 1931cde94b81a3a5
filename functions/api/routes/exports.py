"""``/exports``: request a ZIP of selected documents, follow it, download it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Header, Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.documents_models import DownloadLink
from fiscal_core.api.openapi import responses
from fiscal_core.api.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from fiscal_core.exports.api_models import ExportOut, ExportPage
from fiscal_core.exports.api_services import ExportServices, get_export_services
from fiscal_core.exports.request import IDEMPOTENCY_KEY_PATTERN, ExportRequest
from functions.api.router import resource_router

router = resource_router()
Exports = Annotated[ExportServices, Depends(get_export_services)]
ExportId = Annotated[str, Path(min_length=1, max_length=64, description="An export of your account.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Repeat a request with the same key to get the same export, never a second one.",
    ),
]


@router.post(
    "/exports",
    tags=["exports"],
    status_code=202,
    responses=responses(403, 404, success=202, description="Queued (or the export this key already made)"),
)
def create_export(
    ctx: Ctx, services: Exports, body: ExportRequest, idempotency_key: IdempotencyKey = None
) -> ExportOut:
    """Export the documents the filters select (the documents list's) as one ZIP with a spreadsheet."""
    from fiscal_core.exports import api as exports

    return exports.create_export(ctx, services, body, idempotency_key)


@router.get("/exports", tags=["exports"], responses=responses())
def list_exports(
    ctx: Ctx, services: Exports, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> ExportPage:
    """The exports you can see, newest first."""
    from fiscal_core.exports import api as exports

    return exports.list_exports(ctx, services, limit, cursor)


@router.get("/exports/<export_id>", tags=["exports"], responses=responses(404))
def get_export(ctx: Ctx, services: Exports, export_id: ExportId) -> ExportOut:
    """One export: status, progress, counts and the problems met."""
    from fiscal_core.exports import api as exports

    return exports.get_export(ctx, services, export_id)


@router.get("/exports/<export_id>/download", tags=["exports"], responses=responses(404, 409, 410))
def download_export(ctx: Ctx, services: Exports, export_id: ExportId) -> DownloadLink:
    """A link to the ZIP, valid for one hour (audited); 409 until the export has SUCCEEDED."""
    from fiscal_core.exports import api as exports

    return exports.download_link(ctx, services, export_id)
