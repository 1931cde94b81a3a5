"""``/companies``: register, read, change, deactivate and list the account's companies."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.companies import CompanyCreate, CompanyOut, CompanyPage, CompanyUpdate
from fiscal_core.api.openapi import responses
from fiscal_core.api.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from functions.api.router import resource_router

router = resource_router()
CompanyId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/companies", tags=["companies"], status_code=201, responses=responses(403, 409, success=201))
def create_company(ctx: Ctx, body: CompanyCreate) -> CompanyOut:
    """Register a company (owners and admins); its CNPJ must be new to the account."""
    from fiscal_core.api import companies

    return companies.create_company(ctx, body)


@router.get("/companies", tags=["companies"], responses=responses(403))
def list_companies(ctx: Ctx, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> CompanyPage:
    """The companies you can see, with certificate state and sync health, a page at a time."""
    from fiscal_core.api import companies

    return companies.list_companies(ctx, limit, cursor)


@router.get("/companies/<company_id>", tags=["companies"], responses=responses(403, 404))
def get_company(ctx: Ctx, company_id: CompanyId) -> CompanyOut:
    """One company, with certificate state and sync health."""
    from fiscal_core.api import companies

    return companies.get_company(ctx, company_id)


@router.patch("/companies/<company_id>", tags=["companies"], responses=responses(403, 404))
def update_company(ctx: Ctx, company_id: CompanyId, body: CompanyUpdate) -> CompanyOut:
    """Change names, UF, município, IE, tags or auto-Ciência (the company's admins)."""
    from fiscal_core.api import companies

    return companies.update_company(ctx, company_id, body)


@router.post("/companies/<company_id>/deactivate", tags=["companies"], responses=responses(403, 404))
def deactivate_company(ctx: Ctx, company_id: CompanyId) -> CompanyOut:
    """Stop collecting a company's documents; what was collected stays (owners and admins)."""
    from fiscal_core.api import companies

    return companies.set_active(ctx, company_id, active=False)


@router.post("/companies/<company_id>/activate", tags=["companies"], responses=responses(403, 404))
def activate_company(ctx: Ctx, company_id: CompanyId) -> CompanyOut:
    """Resume collecting a deactivated company's documents (owners and admins)."""
    from fiscal_core.api import companies

    return companies.set_active(ctx, company_id, active=True)
