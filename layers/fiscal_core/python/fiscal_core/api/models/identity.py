"""Bodies of the identity resources: the caller, their account, its users and company roles."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from fiscal_core.api.roles import AccountRole
from fiscal_core.model import Model
from fiscal_core.storage.companies import CompanyRole

AccountKind = Literal["COMPANY", "ACCOUNTING_FIRM"]
# A pragmatic shape check; the user pool has the last word (an address it refuses is a 422).
_EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}$"


class Request(Model):
    """A request body: unknown fields are refused, so a typo is a 422 and not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class AccountOut(Model):
    """An account (the tenant) and its settings."""

    account_id: str
    name: str
    kind: str
    status: str
    require_mfa: bool = Field(description="Every user must have TOTP MFA enabled to use the API.")
    created_at: datetime
    updated_at: datetime


class AccountUpdate(Request):
    """The account settings to change; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: AccountKind | None = None
    require_mfa: bool | None = Field(
        default=None, description="Require TOTP MFA of every user; you must have it enabled yourself."
    )


class UserOut(Model):
    """A user of the account."""

    user_id: str
    email: str
    name: str
    account_role: AccountRole
    status: str = Field(description="INVITED until their first sign-in, then ACTIVE; or DISABLED.")
    created_at: datetime
    last_login_at: datetime | None = None


class UserPage(Model):
    """One page of users."""

    items: list[UserOut]
    next_cursor: str | None = None


class Invitation(Request):
    """Who to invite into the account; Cognito emails them a temporary password."""

    email: str = Field(pattern=_EMAIL, max_length=254)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    account_role: AccountRole = AccountRole.MEMBER


class RoleChange(Request):
    """A user's new account role."""

    account_role: AccountRole


class CompanyRoleOut(Model):
    """The caller's role on one company."""

    company_id: str
    role: CompanyRole


class MfaState(Model):
    """Whether the caller has TOTP MFA, and whether their account requires it."""

    totp_enabled: bool
    required: bool


class Me(Model):
    """The caller: their user, account, roles and MFA state."""

    user: UserOut
    account: AccountOut
    all_companies_role: CompanyRole | None = Field(
        description="ADMIN for owners and admins, who hold it on every company; else null."
    )
    company_roles: list[CompanyRoleOut] = Field(description="A member's roles, company by company.")
    mfa: MfaState


class PermissionIn(Request):
    """A user's role on one company."""

    role: CompanyRole


class PermissionOut(Model):
    """A user's role on one company, who granted it and when."""

    company_id: str
    user_id: str
    role: CompanyRole
    granted_by: str
    granted_at: datetime


class PermissionList(Model):
    """The roles users hold on one company."""

    items: list[PermissionOut]
