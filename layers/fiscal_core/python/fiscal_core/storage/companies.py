"""Companies of an account and the per-company roles of its users."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from fiscal_core.storage import crud
from fiscal_core.storage.errors import RecordExists, RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.keys import account_scoped, part
from fiscal_core.storage.mapping import item_values, record_from
from fiscal_core.storage.models import Company, CompanyUserPermission
from fiscal_core.storage.pagination import MAX_PAGE_SIZE
from fiscal_core.storage.records import Page


class CompanyRole(StrEnum):
    """What a user may do on one company."""

    VIEWER = "VIEWER"
    OPERATOR = "OPERATOR"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """A company (one CNPJ) of an account."""

    account_id: str
    company_id: str
    cnpj: str
    legal_name: str
    uf: str
    created_at: datetime
    updated_at: datetime
    trade_name: str | None = None
    municipio: str | None = None
    ie: str | None = None
    tags: list[str] = field(default_factory=list)
    active: bool = True
    auto_ciencia: bool = False
    certificate_id: str | None = None


@dataclass(frozen=True, slots=True)
class Permission:
    """A user's role on a company."""

    account_id: str
    company_id: str
    user_id: str
    role: CompanyRole
    granted_by: str
    granted_at: datetime


class CompanyRepository:
    """Companies and permissions, always within one account."""

    def create(self, company: CompanyRecord) -> None:
        """Register a company; RecordExists if its id or its CNPJ is already in the account.

        The CNPJ check reads an index, which is eventually consistent: two registrations of
        one CNPJ within the same second could both pass (the API serialises them per account).
        """
        if self.find_by_cnpj(company.account_id, company.cnpj):
            raise RecordExists(f"CNPJ {company.cnpj} is already registered in this account")
        crud.create(Company(**item_values(company)), f"company {company.company_id}")

    def get(self, account_id: str, company_id: str) -> CompanyRecord:
        """A company of the account, or RecordNotFound."""
        item = crud.get(Company, account_id, company_id, f"company {company_id}")
        return record_from(item, CompanyRecord)

    def list_companies(
        self, account_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[CompanyRecord]:
        """One page of the account's companies, by id."""
        items, next_cursor = crud.query_page(
            Company, account_id, what="companies", limit=limit, cursor=cursor
        )
        return Page([record_from(i, CompanyRecord) for i in items], next_cursor)

    def find_by_cnpj(self, account_id: str, cnpj: str) -> list[str]:
        """Ids of the account's companies with this CNPJ (normally none or one)."""
        with storage_call("find a company by CNPJ"):
            return [i.company_id for i in Company.by_cnpj.query(account_id, Company.cnpj == cnpj)]

    def update(
        self, account_id: str, company_id: str, at: datetime, changes: dict[str, object]
    ) -> CompanyRecord:
        """Set the given fields (legal_name, uf, tags, active...) of a company; its new state.

        RecordNotFound if the company is not in the account. ``changes`` names record fields;
        the keys and the CNPJ cannot be changed (a new CNPJ is a new company).
        """
        fixed = {"account_id", "company_id", "cnpj", "created_at", "updated_at"} & changes.keys()
        if fixed:
            raise ValueError(f"{sorted(fixed)} cannot be changed")
        attributes = Company.get_attributes()
        actions: list[Action] = [Company.updated_at.set(at)]
        for name, value in changes.items():
            attribute = attributes[name]
            actions.append(attribute.remove() if value is None else attribute.set(value))
        with storage_call(f"update company {company_id}"):
            try:
                Company(account_id, company_id).update(actions, condition=Company.account_id.exists())
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                raise RecordNotFound(f"company {company_id} was not found") from exc
        return self.get(account_id, company_id)

    def get_many(self, account_id: str, company_ids: list[str]) -> list[CompanyRecord]:
        """The account's companies with these ids, in the order given (missing ones left out)."""
        if len(company_ids) > MAX_PAGE_SIZE:
            raise ValueError(f"at most {MAX_PAGE_SIZE} companies at a time")
        with storage_call("read companies"):
            found = {i.company_id: i for i in Company.batch_get([(account_id, c) for c in company_ids])}
        return [record_from(found[c], CompanyRecord) for c in company_ids if c in found]

    def user_permissions_page(
        self, account_id: str, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Permission]:
        """One page of the companies a user has a role on, by company id."""
        items, next_cursor = crud.query_page(
            CompanyUserPermission, account_scoped(account_id, user_id), what="a user's permissions",
            index=CompanyUserPermission.by_user, partition_attr="user_key", limit=limit, cursor=cursor,
        )  # fmt: skip
        return Page([_permission(i) for i in items], next_cursor)

    def grant(self, permission: Permission) -> None:
        """Give (or change) a user's role on a company."""
        item = CompanyUserPermission(
            permission.account_id,
            _permission_key(permission.company_id, permission.user_id),
            user_key=account_scoped(permission.account_id, permission.user_id),
            company_id=permission.company_id,
            user_id=permission.user_id,
            role=permission.role,
            granted_by=permission.granted_by,
            granted_at=permission.granted_at,
        )
        with storage_call("grant a permission"):
            item.save()

    def revoke(self, account_id: str, company_id: str, user_id: str) -> None:
        """Take a user's role on a company away; RecordNotFound if there was none."""
        item = CompanyUserPermission(account_id, _permission_key(company_id, user_id))
        with storage_call("revoke a permission"):
            try:
                item.delete(condition=CompanyUserPermission.account_id.exists())
            except DeleteError as exc:
                if not is_condition_failure(exc):
                    raise
                raise RecordNotFound(f"user {user_id} has no role on company {company_id}") from exc

    def role(self, account_id: str, company_id: str, user_id: str) -> CompanyRole | None:
        """The user's role on the company, or None: one GetItem, made on every request."""
        with storage_call("read a permission"):
            try:
                item = CompanyUserPermission.get(account_id, _permission_key(company_id, user_id))
            except DoesNotExist:
                return None
        return CompanyRole(item.role)

    def company_permissions(self, account_id: str, company_id: str) -> list[Permission]:
        """Every user's role on one company."""
        prefix = _permission_key(company_id, "")
        with storage_call("list a company's permissions"):
            items = CompanyUserPermission.query(
                account_id, CompanyUserPermission.permission_key.startswith(prefix)
            )
            return [_permission(i) for i in items]

    def user_permissions(self, account_id: str, user_id: str) -> list[Permission]:
        """Every company a user has a role on, with the role."""
        with storage_call("list a user's permissions"):
            items = CompanyUserPermission.by_user.query(account_scoped(account_id, user_id))
            return [_permission(i) for i in items]


def _permission_key(company_id: str, user_id: str) -> str:
    return f"{part(company_id, 'company_id')}#{user_id}"


def _permission(item: CompanyUserPermission) -> Permission:
    return Permission(
        account_id=item.account_id,
        company_id=item.company_id,
        user_id=item.user_id,
        role=CompanyRole(item.role),
        granted_by=item.granted_by,
        granted_at=item.granted_at,
    )
