"""The account's users: invite by email, list, change an account role (owners and admins).

Owners can give any role; admins can add and change admins and members, but only an owner can
make or unmake an owner. An account always keeps at least one owner.
"""

from __future__ import annotations

from fiscal_core.api.accounts import user_out
from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.identity import Invitation, RoleChange, UserOut, UserPage
from fiscal_core.api.problems import Conflict, NotFound
from fiscal_core.api.roles import AccountRole, check_id, require_account_admin, require_account_owner
from fiscal_core.storage.accounts import UserRecord
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.ids import new_sortable_id


def invite(ctx: RequestContext, invitation: Invitation) -> UserOut:
    """Create the user's login (Cognito emails them) and their record in the account; audited."""
    require_account_admin(ctx, "invite users")
    if invitation.account_role == AccountRole.OWNER:
        require_account_owner(ctx, "invite an owner")
    email = invitation.email.strip().lower()
    login = ctx.services.directory.invite(email, invitation.name)
    user = UserRecord(
        account_id=ctx.account_id,
        user_id=new_sortable_id(ctx.now),
        email=email,
        name=invitation.name or email,
        account_role=invitation.account_role,
        status="INVITED",
        created_at=ctx.now,
        cognito_sub=login.sub,
    )
    ctx.services.accounts.create_user(user)
    ctx.audit("user.invite", "user", user.user_id, {"email": email, "account_role": user.account_role})
    return user_out(user)


def list_users(ctx: RequestContext, limit: int, cursor: str | None) -> UserPage:
    """One page of the account's users (owners and admins)."""
    require_account_admin(ctx, "list the account's users")
    page = ctx.services.accounts.list_users(ctx.account_id, limit=limit, cursor=cursor)
    return UserPage(items=[user_out(u) for u in page.items], next_cursor=page.cursor)


def get_user(ctx: RequestContext, user_id: str) -> UserRecord:
    """A user of the caller's account, or NotFound (whether it exists elsewhere or not)."""
    check_id(user_id, "user")
    try:
        return ctx.services.accounts.get_user(ctx.account_id, user_id)
    except RecordNotFound as exc:
        raise NotFound("user") from exc


def change_role(ctx: RequestContext, user_id: str, change: RoleChange) -> UserOut:
    """Give a user another account role; audited. The last owner cannot stop being one."""
    require_account_admin(ctx, "change account roles")
    user = get_user(ctx, user_id)
    new_role = change.account_role
    if AccountRole.OWNER in (user.account_role, new_role) and user.account_role != new_role:
        require_account_owner(ctx, "make or unmake an owner")
    if user.account_role == AccountRole.OWNER and new_role != AccountRole.OWNER and _owners(ctx) <= 1:
        raise Conflict("This is the account's only owner; make someone else an owner first.")
    updated = ctx.services.accounts.update_user(ctx.account_id, user_id, account_role=new_role)
    ctx.audit("user.role_change", "user", user_id, {"from": user.account_role, "to": new_role})
    return user_out(updated)


def _owners(ctx: RequestContext) -> int:
    count, cursor = 0, None
    while True:
        page = ctx.services.accounts.list_users(ctx.account_id, limit=100, cursor=cursor)
        count += sum(1 for u in page.items if u.account_role == AccountRole.OWNER)
        if page.cursor is None:
            return count
        cursor = page.cursor
