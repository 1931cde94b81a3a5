"""The request context: who is calling, from where, and the audit helper.

A route declares ``ctx: Ctx`` and Powertools resolves it before the route runs (``Depends``):
the verified token's ``sub`` finds the user record, and the user record gives the account. The
account id comes from there and nowhere else, never from a path, query or body. The first
request of a new Cognito user opens their account, with them as its owner; the first request of
an invited user activates their invitation. When the account requires MFA, a caller without
TOTP enabled is refused here (403), except on the routes that take ``CtxWithoutMfa``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, cast

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from fiscal_core.api.problems import Forbidden, MfaRequired, Unauthenticated
from fiscal_core.api.roles import AccountRole
from fiscal_core.api.services import Services, get_services
from fiscal_core.observability import logger
from fiscal_core.storage.accounts import AccountRecord, UserRecord
from fiscal_core.storage.audit import AuditEntry
from fiscal_core.storage.errors import RecordExists

# Account and owner ids of a self-signed-up user derive from their ``sub``, so two concurrent
# first requests create one account, not two.
_ACCOUNT_NAMESPACE: Final = uuid.UUID("5b0f4a52-3c1e-4c8e-9d55-2f1c6f0c7a11")
MFA_HELP: Final = (
    "This account requires multi-factor authentication. Enable an authenticator app (TOTP) for "
    "your login: in FiscalMix open Profile > Security > Authenticator app (or call Cognito's "
    "AssociateSoftwareToken and VerifySoftwareToken and set it preferred), then try again."
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, as API Gateway saw it."""

    ip: str | None
    user_agent: str | None
    path: str


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One authenticated request: the caller, their account, the services, and the time."""

    user: UserRecord
    account: AccountRecord
    username: str  # the user pool's username: what the directory is asked about
    origin: Origin
    services: Services
    now: datetime

    @property
    def account_id(self) -> str:
        """The caller's account: the tenant of every read and write of this request."""
        return self.account.account_id

    def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: str,
        details: Mapping[str, Any] | None = None,
        *,
        company_id: str | None = None,
    ) -> None:
        """Record that the caller did ``action`` to an entity, with who, when and from where.

        Call it after the change succeeded; ``details`` must hold no secret (it is stored as is).
        """
        self.services.audit.record(
            AuditEntry(
                account_id=self.account_id,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                at=self.now,
                user_id=self.user.user_id,
                company_id=company_id,
                ip=self.origin.ip,
                user_agent=self.origin.user_agent,
                # Plain JSON values only: enums become their text, datetimes their ISO form.
                details=json.loads(json.dumps(dict(details or {}), default=str)),
            )
        )


def request_context_without_mfa(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> RequestContext:
    """The caller's context, without the account's MFA requirement (for ``GET /me``)."""
    event = cast(APIGatewayProxyEventV2, request.resolved_event)
    claims = event.request_context.authorizer.jwt_claim or {}
    sub, username = claims.get("sub"), claims.get("username") or claims.get("sub")
    if not sub or not username:
        raise Unauthenticated("The request carries no verified identity; send a user pool access token.")
    now = services.clock()
    http = event.request_context.http
    origin = Origin(ip=http.source_ip or None, user_agent=http.user_agent or None, path=event.raw_path)
    user, account, created = _signed_in_user(services, sub, username, now)
    ctx = RequestContext(user, account, username, origin, services, now)
    if created:
        ctx.audit("account.create", "account", account.account_id, {"name": account.name})
    logger.append_keys(account_id=account.account_id, user_id=user.user_id)
    return ctx


def request_context(
    ctx: Annotated[RequestContext, Depends(request_context_without_mfa)],
) -> RequestContext:
    """The caller's context, refused with 403 if their account requires MFA they lack."""
    if ctx.account.require_mfa and not ctx.services.directory.profile(ctx.username).totp_enabled:
        raise MfaRequired(MFA_HELP)
    return ctx


Ctx = Annotated[RequestContext, Depends(request_context)]
CtxWithoutMfa = Annotated[RequestContext, Depends(request_context_without_mfa)]


def _signed_in_user(
    services: Services, sub: str, username: str, now: datetime
) -> tuple[UserRecord, AccountRecord, bool]:
    """The user and account of a verified ``sub``; opens the account on its first request."""
    accounts = services.accounts
    refs = accounts.users_by_cognito_sub(sub)
    if not refs:
        return _open_account(services, sub, username, now)
    if len(refs) > 1:
        # One login belongs to one account (invitations refuse taken emails); if that ever
        # breaks, the first account is used and the anomaly is logged for an operator.
        logger.error("a sign-in identity belongs to several users", extra={"users": len(refs)})
    user = accounts.get_user(refs[0].account_id, refs[0].user_id)
    if user.status == "DISABLED":
        raise Forbidden("Your access to this account was disabled; ask one of its admins.")
    if user.status == "INVITED":
        user = accounts.update_user(user.account_id, user.user_id, status="ACTIVE", last_login_at=now)
    return user, accounts.get_account(user.account_id), False


def _open_account(
    services: Services, sub: str, username: str, now: datetime
) -> tuple[UserRecord, AccountRecord, bool]:
    """Create the account of a user who signed up, with them as its owner (idempotent).

    The flag says whether this call created the account (a concurrent first request may have).
    """
    profile = services.directory.profile(username)
    account_id = uuid.uuid5(_ACCOUNT_NAMESPACE, sub).hex
    user_id = uuid.uuid5(_ACCOUNT_NAMESPACE, f"owner:{sub}").hex
    account = AccountRecord(
        account_id=account_id,
        name=profile.name or profile.email or "My account",
        kind="COMPANY",
        status="ACTIVE",
        created_at=now,
        updated_at=now,
    )
    user = UserRecord(
        account_id=account_id,
        user_id=user_id,
        email=profile.email,
        name=profile.name or profile.email,
        account_role=AccountRole.OWNER,
        status="ACTIVE",
        created_at=now,
        cognito_sub=sub,
        last_login_at=now,
    )
    created = True
    try:
        services.accounts.create_account(account)
    except RecordExists:
        created = False  # a concurrent first request got here first: the ids are the same
    with suppress(RecordExists):
        services.accounts.create_user(user)
    return services.accounts.get_user(account_id, user_id), services.accounts.get_account(account_id), created
