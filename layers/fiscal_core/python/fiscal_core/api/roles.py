"""Who may do what: account roles (owner, admin, member) and company roles (viewer, operator, admin).

An account's owners and admins hold ADMIN on every company of the account; a member holds
whatever company_user_permissions grants, company by company. A company the caller holds no
role on does not exist for them (404, like another account's); a company they can see but whose
action needs a higher role is a 403 that says which role it needs.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from fiscal_core.api.problems import Forbidden, NotFound
from fiscal_core.storage.companies import CompanyRecord, CompanyRole
from fiscal_core.storage.errors import RecordNotFound

if TYPE_CHECKING:
    from fiscal_core.api.context import RequestContext


class AccountRole(StrEnum):
    """A user's role in their account."""

    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


_COMPANY_RANK: Final = {CompanyRole.VIEWER: 1, CompanyRole.OPERATOR: 2, CompanyRole.ADMIN: 3}
# Ids FiscalMix hands out: ULIDs and hex UUIDs. Anything else names nothing, so it is a 404
# before any read (and never reaches a key with a separator in it).
_ID: Final = re.compile(r"[0-9A-Za-z]{1,64}")


def check_id(value: str, what: str) -> str:
    """``value`` if it could be an id FiscalMix issued; NotFound(what) otherwise."""
    if not _ID.fullmatch(value):
        raise NotFound(what)
    return value


def is_account_admin(ctx: RequestContext) -> bool:
    """True for the account's owners and admins."""
    return ctx.user.account_role in (AccountRole.OWNER, AccountRole.ADMIN)


def require_account_admin(ctx: RequestContext, action: str) -> None:
    """Forbidden unless the caller is an owner or admin of the account; ``action`` says what."""
    if not is_account_admin(ctx):
        raise Forbidden(f"Only the account's owners and admins can {action}; your role is MEMBER.")


def require_account_owner(ctx: RequestContext, action: str) -> None:
    """Forbidden unless the caller is an owner of the account."""
    if ctx.user.account_role != AccountRole.OWNER:
        raise Forbidden(f"Only the account's owners can {action}; your role is {ctx.user.account_role}.")


def company_role(ctx: RequestContext, company_id: str) -> CompanyRole | None:
    """The caller's role on a company of their account, or None if they hold none."""
    if is_account_admin(ctx):
        return CompanyRole.ADMIN
    return ctx.services.companies.role(ctx.account_id, company_id, ctx.user.user_id)


def company_for(ctx: RequestContext, company_id: str, at_least: CompanyRole, action: str) -> CompanyRecord:
    """The company, if the caller can see it and holds ``at_least`` on it.

    NotFound when the id is not a company of the caller's account or the caller holds no role
    on it; Forbidden, naming the role needed for ``action``, when their role is lower.
    """
    check_id(company_id, "company")
    role = company_role(ctx, company_id)
    if role is None:
        raise NotFound("company")
    try:
        company = ctx.services.companies.get(ctx.account_id, company_id)
    except RecordNotFound as exc:
        raise NotFound("company") from exc
    if _COMPANY_RANK[role] < _COMPANY_RANK[at_least]:
        raise Forbidden(f"To {action} you need the {at_least} role on this company; yours is {role}.")
    return company
