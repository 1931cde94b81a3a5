"""Companies: register (CNPJ unique in the account), read, change, deactivate, list.

A company's id derives from its account and CNPJ, so registering one CNPJ twice, even in two
concurrent requests, collides on the same key and the second gets a 409.
"""

from __future__ import annotations

import uuid
from typing import Final

from fiscal_core.api.company_state import company_out
from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.companies import (
    CompanyCreate,
    CompanyOut,
    CompanyPage,
    CompanyUpdate,
    check_municipio,
)
from fiscal_core.api.problems import Conflict
from fiscal_core.api.roles import company_for, is_account_admin, require_account_admin
from fiscal_core.identifiers import format_cnpj
from fiscal_core.storage.companies import CompanyRecord, CompanyRole
from fiscal_core.storage.errors import RecordExists

_COMPANY_NAMESPACE: Final = uuid.UUID("8d1f3c0e-7a4b-4f52-b6d9-1e2a3b4c5d6e")


def create_company(ctx: RequestContext, body: CompanyCreate) -> CompanyOut:
    """Register a company in the caller's account (owners and admins); audited."""
    require_account_admin(ctx, "register companies")
    check_municipio(body.uf, body.municipio)
    company = CompanyRecord(
        account_id=ctx.account_id,
        company_id=company_id_for(ctx.account_id, body.cnpj),
        created_at=ctx.now,
        updated_at=ctx.now,
        **body.model_dump(),
    )
    try:
        ctx.services.companies.create(company)
    except RecordExists as exc:
        raise Conflict(
            f"CNPJ {format_cnpj(body.cnpj)} is already registered in this account; "
            "open that company (reactivate it if it was deactivated) instead of adding it again."
        ) from exc
    ctx.audit(
        "company.create", "company", company.company_id, {"cnpj": company.cnpj}, company_id=company.company_id
    )
    return company_out(ctx.services, company, ctx.now)


def company_id_for(account_id: str, cnpj: str) -> str:
    """The id of the company with ``cnpj`` in ``account_id``: the same CNPJ always gets the same id."""
    return uuid.uuid5(_COMPANY_NAMESPACE, f"{account_id}:{cnpj}").hex


def get_company(ctx: RequestContext, company_id: str) -> CompanyOut:
    """A company the caller can see."""
    company = company_for(ctx, company_id, CompanyRole.VIEWER, "see this company")
    return company_out(ctx.services, company, ctx.now)


def update_company(ctx: RequestContext, company_id: str, body: CompanyUpdate) -> CompanyOut:
    """Change a company's fields (its admins); audited with the fields changed."""
    company = company_for(ctx, company_id, CompanyRole.ADMIN, "change this company")
    changes = body.model_dump(exclude_unset=True)
    for required in ("legal_name", "uf", "tags", "auto_ciencia"):
        if required in changes and changes[required] is None:
            del changes[required]  # these cannot be cleared; null leaves them as they are
    check_municipio(changes.get("uf", company.uf), changes.get("municipio", company.municipio))
    updated = ctx.services.companies.update(ctx.account_id, company_id, ctx.now, changes)
    ctx.audit("company.update", "company", company_id, {"fields": sorted(changes)}, company_id=company_id)
    return company_out(ctx.services, updated, ctx.now)


def set_active(ctx: RequestContext, company_id: str, active: bool) -> CompanyOut:
    """Deactivate (stop collecting; documents stay) or reactivate a company (owners and admins)."""
    company_for(ctx, company_id, CompanyRole.VIEWER, "see this company")  # 404 before 403
    require_account_admin(ctx, "deactivate or reactivate companies")
    updated = ctx.services.companies.update(ctx.account_id, company_id, ctx.now, {"active": active})
    action = "company.activate" if active else "company.deactivate"
    ctx.audit(action, "company", company_id, {}, company_id=company_id)
    return company_out(ctx.services, updated, ctx.now)


def list_companies(ctx: RequestContext, limit: int, cursor: str | None) -> CompanyPage:
    """One page of the companies the caller can see: all for admins, a member's granted ones."""
    services = ctx.services
    if is_account_admin(ctx):
        page = services.companies.list_companies(ctx.account_id, limit=limit, cursor=cursor)
        companies, next_cursor = page.items, page.cursor
    else:
        granted = services.companies.user_permissions_page(
            ctx.account_id, ctx.user.user_id, limit=limit, cursor=cursor
        )
        companies = services.companies.get_many(ctx.account_id, [p.company_id for p in granted.items])
        next_cursor = granted.cursor
    return CompanyPage(items=[company_out(services, c, ctx.now) for c in companies], next_cursor=next_cursor)
