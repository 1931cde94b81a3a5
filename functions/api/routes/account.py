"""``/account`` and ``/account/users``: the caller's account, its settings and its users."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.identity import (
    AccountOut,
    AccountUpdate,
    Invitation,
    RoleChange,
    UserOut,
    UserPage,
)
from fiscal_core.api.openapi import responses
from fiscal_core.api.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from functions.api.router import resource_router

router = resource_router()
UserId = Annotated[str, Path(min_length=1, max_length=64, description="A user of your account.")]


@router.get("/account", tags=["account"], responses=responses(403))
def get_account(ctx: Ctx) -> AccountOut:
    """The caller's account and its settings."""
    from fiscal_core.api import accounts

    return accounts.get_account(ctx)


@router.patch("/account", tags=["account"], responses=responses(403, 409))
def update_account(ctx: Ctx, body: AccountUpdate) -> AccountOut:
    """Change the account's name, kind or MFA requirement (owners and admins)."""
    from fiscal_core.api import accounts

    return accounts.update_account(ctx, body)


@router.get("/account/users", tags=["account"], responses=responses(403))
def list_users(ctx: Ctx, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> UserPage:
    """The account's users, a page at a time (owners and admins)."""
    from fiscal_core.api import users

    return users.list_users(ctx, limit, cursor)


@router.post(
    "/account/users",
    tags=["account"],
    status_code=201,
    responses=responses(403, 409, success=201, description="Invited"),
)
def invite_user(ctx: Ctx, body: Invitation) -> UserOut:
    """Invite someone by email with an account role; Cognito emails them a temporary password."""
    from fiscal_core.api import users

    return users.invite(ctx, body)


@router.patch("/account/users/<user_id>", tags=["account"], responses=responses(403, 404, 409))
def change_user_role(ctx: Ctx, user_id: UserId, body: RoleChange) -> UserOut:
    """Change a user's account role (only owners make or unmake owners; one owner always stays)."""
    from fiscal_core.api import users

    return users.change_role(ctx, user_id, body)
