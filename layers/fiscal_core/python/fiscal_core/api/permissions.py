"""Per-company roles: who may view, operate or administer one company (its admins decide)."""

from __future__ import annotations

from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.identity import PermissionIn, PermissionList, PermissionOut
from fiscal_core.api.problems import NotFound
from fiscal_core.api.roles import company_for
from fiscal_core.api.users import get_user
from fiscal_core.storage.companies import CompanyRole, Permission
from fiscal_core.storage.errors import RecordNotFound


def list_permissions(ctx: RequestContext, company_id: str) -> PermissionList:
    """The roles users hold on a company (its admins)."""
    company_for(ctx, company_id, CompanyRole.ADMIN, "see who has access to it")
    permissions = ctx.services.companies.company_permissions(ctx.account_id, company_id)
    return PermissionList(items=[_out(p) for p in permissions])


def set_permission(ctx: RequestContext, company_id: str, user_id: str, body: PermissionIn) -> PermissionOut:
    """Give a user of the account a role on the company, or change it; audited."""
    company_for(ctx, company_id, CompanyRole.ADMIN, "manage who has access to it")
    get_user(ctx, user_id)
    permission = Permission(
        account_id=ctx.account_id,
        company_id=company_id,
        user_id=user_id,
        role=body.role,
        granted_by=ctx.user.user_id,
        granted_at=ctx.now,
    )
    ctx.services.companies.grant(permission)
    ctx.audit(
        "permission.set",
        "company",
        company_id,
        {"user_id": user_id, "role": body.role},
        company_id=company_id,
    )
    return _out(permission)


def remove_permission(ctx: RequestContext, company_id: str, user_id: str) -> None:
    """Take a user's role on the company away; audited. NotFound if they had none."""
    company_for(ctx, company_id, CompanyRole.ADMIN, "manage who has access to it")
    get_user(ctx, user_id)
    try:
        ctx.services.companies.revoke(ctx.account_id, company_id, user_id)
    except RecordNotFound as exc:
        raise NotFound("permission") from exc
    ctx.audit("permission.remove", "company", company_id, {"user_id": user_id}, company_id=company_id)


def _out(permission: Permission) -> PermissionOut:
    return PermissionOut(
        company_id=permission.company_id,
        user_id=permission.user_id,
        role=permission.role,
        granted_by=permission.granted_by,
        granted_at=permission.granted_at,
    )
