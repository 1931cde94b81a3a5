"""The caller and their account: ``GET /me``, the account's settings (including ``require_mfa``)."""

from __future__ import annotations

from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.identity import AccountOut, AccountUpdate, CompanyRoleOut, Me, MfaState, UserOut
from fiscal_core.api.problems import Conflict
from fiscal_core.api.roles import is_account_admin, require_account_admin
from fiscal_core.storage.accounts import AccountRecord, UserRecord
from fiscal_core.storage.companies import CompanyRole
from fiscal_core.storage.pagination import MAX_PAGE_SIZE


def me(ctx: RequestContext) -> Me:
    """Who the caller is, in which account, with which roles, and their MFA state."""
    admin = is_account_admin(ctx)
    roles: list[CompanyRoleOut] = []
    if not admin:
        permissions = ctx.services.companies.user_permissions(ctx.account_id, ctx.user.user_id)
        roles = [CompanyRoleOut(company_id=p.company_id, role=p.role) for p in permissions]
    return Me(
        user=user_out(ctx.user),
        account=account_out(ctx.account),
        all_companies_role=CompanyRole.ADMIN if admin else None,
        company_roles=roles[:MAX_PAGE_SIZE],
        mfa=MfaState(
            totp_enabled=ctx.services.directory.profile(ctx.username, fresh=True).totp_enabled,
            required=ctx.account.require_mfa,
        ),
    )


def get_account(ctx: RequestContext) -> AccountOut:
    """The caller's account."""
    return account_out(ctx.account)


def update_account(ctx: RequestContext, changes: AccountUpdate) -> AccountOut:
    """Change the account's settings (owners and admins); audited.

    Turning ``require_mfa`` on is refused unless the caller has TOTP enabled themselves: they
    would otherwise lock themselves out of the setting they just changed.
    """
    require_account_admin(ctx, "change the account's settings")
    if changes.require_mfa and not ctx.services.directory.profile(ctx.username, fresh=True).totp_enabled:
        raise Conflict(
            "Enable an authenticator app (TOTP) for your own login before requiring MFA of "
            "everyone; otherwise you would be locked out of this account."
        )
    fields = changes.model_dump(exclude_none=True)
    account = ctx.services.accounts.update_account(ctx.account_id, ctx.now, **fields)
    ctx.audit("account.update", "account", ctx.account_id, fields)
    return account_out(account)


def account_out(account: AccountRecord) -> AccountOut:
    """The API's view of an account."""
    return AccountOut(
        account_id=account.account_id,
        name=account.name,
        kind=account.kind,
        status=account.status,
        require_mfa=account.require_mfa,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def user_out(user: UserRecord) -> UserOut:
    """The API's view of a user (never their Cognito identifiers)."""
    return UserOut(
        user_id=user.user_id,
        email=user.email,
        name=user.name,
        account_role=user.account_role,  # type: ignore[arg-type]
        status=user.status,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )
