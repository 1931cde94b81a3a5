"""Accounts (the tenants) and their users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from fiscal_core.storage import crud
from fiscal_core.storage.errors import RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.mapping import item_values, record_from
from fiscal_core.storage.models import Account, User
from fiscal_core.storage.records import Page


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A customer: an accounting firm or a company."""

    account_id: str
    name: str
    kind: str  # ACCOUNTING_FIRM | COMPANY
    status: str  # ACTIVE | SUSPENDED
    created_at: datetime
    updated_at: datetime
    document: str | None = None
    plan: str | None = None
    require_mfa: bool = False


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A person who signs in to one account."""

    account_id: str
    user_id: str
    email: str
    name: str
    account_role: str  # OWNER | ADMIN | MEMBER
    status: str  # INVITED | ACTIVE | DISABLED
    created_at: datetime
    cognito_sub: str | None = None
    last_login_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserRef:
    """Where a signed-in identity lives: resolved from the token's ``sub`` alone."""

    account_id: str
    user_id: str


class AccountRepository:
    """Accounts and users."""

    def create_account(self, account: AccountRecord) -> None:
        """Create an account; RecordExists if the id is taken."""
        crud.create(Account(**item_values(account)), f"account {account.account_id}")

    def get_account(self, account_id: str) -> AccountRecord:
        """An account, or RecordNotFound."""
        return record_from(crud.get(Account, account_id, None, f"account {account_id}"), AccountRecord)

    def create_user(self, user: UserRecord) -> None:
        """Add a user to an account; RecordExists if the id is taken there."""
        crud.create(User(**item_values(user)), f"user {user.user_id}")

    def get_user(self, account_id: str, user_id: str) -> UserRecord:
        """A user of the account, or RecordNotFound."""
        return record_from(crud.get(User, account_id, user_id, f"user {user_id}"), UserRecord)

    def list_users(self, account_id: str, *, limit: int = 50, cursor: str | None = None) -> Page[UserRecord]:
        """One page of the account's users."""
        items, next_cursor = crud.query_page(User, account_id, what="users", limit=limit, cursor=cursor)
        return Page([record_from(i, UserRecord) for i in items], next_cursor)

    def users_by_cognito_sub(self, cognito_sub: str) -> list[UserRef]:
        """The users a verified token's ``sub`` signs in as; the only user read without an account.

        The token is already verified when this runs; the account it returns is then the
        tenant of every other read of the request.
        """
        with storage_call("find a user by sign-in identity"):
            return [UserRef(i.account_id, i.user_id) for i in User.by_cognito_sub.query(cognito_sub)]

    def update_account(
        self,
        account_id: str,
        at: datetime,
        *,
        name: str | None = None,
        kind: str | None = None,
        require_mfa: bool | None = None,
    ) -> AccountRecord:
        """Change an account's settings (the ones given); its new state, or RecordNotFound."""
        actions: list[Action] = [Account.updated_at.set(at)]
        if name is not None:
            actions.append(Account.name.set(name))
        if kind is not None:
            actions.append(Account.kind.set(kind))
        if require_mfa is not None:
            actions.append(Account.require_mfa.set(require_mfa))
        _update(Account(account_id), actions, Account.account_id.exists(), f"account {account_id}")
        return self.get_account(account_id)

    def update_user(
        self,
        account_id: str,
        user_id: str,
        *,
        account_role: str | None = None,
        status: str | None = None,
        last_login_at: datetime | None = None,
    ) -> UserRecord:
        """Change a user's role, status or last sign-in (the ones given); RecordNotFound if absent."""
        actions: list[Action] = []
        if account_role is not None:
            actions.append(User.account_role.set(account_role))
        if status is not None:
            actions.append(User.status.set(status))
        if last_login_at is not None:
            actions.append(User.last_login_at.set(last_login_at))
        if actions:
            _update(User(account_id, user_id), actions, User.account_id.exists(), f"user {user_id}")
        return self.get_user(account_id, user_id)


def _update(item: Account | User, actions: list[Action], condition: Condition, what: str) -> None:
    """Apply ``actions`` to an existing item; RecordNotFound rather than creating it."""
    with storage_call(f"update {what}"):
        try:
            item.update(actions, condition=condition)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            raise RecordNotFound(f"{what} was not found") from exc
