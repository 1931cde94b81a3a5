"""``/companies/{company_id}/permissions``: users' roles on one company (its admins manage them)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.identity import PermissionIn, PermissionList, PermissionOut
from fiscal_core.api.openapi import responses
from functions.api.router import resource_router

router = resource_router()
CompanyId = Annotated[str, Path(min_length=1, max_length=64)]
UserId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/companies/<company_id>/permissions", tags=["permissions"], responses=responses(403, 404))
def list_permissions(ctx: Ctx, company_id: CompanyId) -> PermissionList:
    """Who holds which role on the company."""
    from fiscal_core.api import permissions

    return permissions.list_permissions(ctx, company_id)


@router.put(
    "/companies/<company_id>/permissions/<user_id>", tags=["permissions"], responses=responses(403, 404)
)
def set_permission(ctx: Ctx, company_id: CompanyId, user_id: UserId, body: PermissionIn) -> PermissionOut:
    """Give a user of the account a role (VIEWER, OPERATOR, ADMIN) on the company, or change it."""
    from fiscal_core.api import permissions

    return permissions.set_permission(ctx, company_id, user_id, body)


@router.delete(
    "/companies/<company_id>/permissions/<user_id>",
    tags=["permissions"],
    responses=responses(403, 404, success=204, description="Removed"),
)
def remove_permission(ctx: Ctx, company_id: CompanyId, user_id: UserId) -> Response[None]:
    """Take a user's role on the company away (they stop seeing it, unless an account admin)."""
    from fiscal_core.api import permissions

    permissions.remove_permission(ctx, company_id, user_id)
    return Response(status_code=204)
