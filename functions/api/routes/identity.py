"""``/me``: who is calling. It answers even when the account's MFA requirement is not met yet."""

from __future__ import annotations

from fiscal_core.api.context import CtxWithoutMfa
from fiscal_core.api.models.identity import Me
from fiscal_core.api.openapi import responses
from functions.api.router import resource_router

router = resource_router()


@router.get("/me", tags=["identity"], responses=responses(403))
def get_me(ctx: CtxWithoutMfa) -> Me:
    """The caller's user, account, roles and MFA state; the first call opens a new user's account."""
    from fiscal_core.api import accounts

    return accounts.me(ctx)
