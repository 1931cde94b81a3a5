"""Accounts, users, companies and permissions against moto."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.accounts import AccountRecord, AccountRepository, UserRecord, UserRef
from fiscal_core.storage.companies import CompanyRecord, CompanyRepository, CompanyRole, Permission
from fiscal_core.storage.errors import RecordExists, RecordNotFound

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def company(company_id: str, cnpj: str = "12345678000195", account_id: str = "acc1"):
    return CompanyRecord(account_id=account_id, company_id=company_id, cnpj=cnpj,
                         legal_name="ACME LTDA", uf="SP", created_at=NOW, updated_at=NOW,
                         tags=["matriz"], municipio="3550308")  # fmt: skip


def user(user_id: str, sub: str | None = None, account_id: str = "acc1") -> UserRecord:
    return UserRecord(account_id=account_id, user_id=user_id, email=f"{user_id}@x.br", name=user_id,
                      account_role="MEMBER", status="ACTIVE", created_at=NOW, cognito_sub=sub)  # fmt: skip


def test_account_and_users(tables):
    repo = AccountRepository()
    account = AccountRecord("acc1", "Contábil X", "ACCOUNTING_FIRM", "ACTIVE", NOW, NOW)
    repo.create_account(account)
    with pytest.raises(RecordExists):
        repo.create_account(account)
    assert repo.get_account("acc1") == account
    repo.create_user(user("u1", sub="sub-1"))
    repo.create_user(user("u2"))
    repo.create_user(user("u9", sub="sub-9", account_id="acc2"))
    assert repo.get_user("acc1", "u1") == user("u1", sub="sub-1")
    assert [u.user_id for u in repo.list_users("acc1").items] == ["u1", "u2"]
    assert repo.users_by_cognito_sub("sub-9") == [UserRef("acc2", "u9")]
    assert repo.users_by_cognito_sub("nobody") == []
    with pytest.raises(RecordNotFound, match="user u9"):
        repo.get_user("acc1", "u9")  # another account's user is not found from this one


def test_companies_are_listed_per_account_and_unique_by_cnpj(tables):
    repo = CompanyRepository()
    repo.create(company("co1"))
    repo.create(company("co2", cnpj="11222333000181"))
    repo.create(company("co1", account_id="acc2"))  # the same CNPJ in another account is fine
    with pytest.raises(RecordExists, match="CNPJ 12345678000195"):
        repo.create(company("co3"))
    with pytest.raises(RecordExists):
        repo.create(company("co2", cnpj="99888777000166"))
    got = repo.get("acc1", "co1")
    assert got == company("co1")
    assert got.tags == ["matriz"]
    page = repo.list_companies("acc1", limit=1)
    assert [c.company_id for c in page.items] == ["co1"]
    rest = repo.list_companies("acc1", cursor=page.cursor)
    assert [c.company_id for c in rest.items] == ["co2"]
    assert repo.find_by_cnpj("acc1", "11222333000181") == ["co2"]


def test_permissions_by_company_and_by_user(tables):
    repo = CompanyRepository()
    for company_id, user_id, role in [("co1", "u1", CompanyRole.ADMIN), ("co1", "u2", CompanyRole.VIEWER),
                                      ("co2", "u1", CompanyRole.OPERATOR)]:  # fmt: skip
        repo.grant(Permission("acc1", company_id, user_id, role, "u0", NOW))
    assert repo.role("acc1", "co1", "u2") is CompanyRole.VIEWER
    assert repo.role("acc2", "co1", "u2") is None
    assert {(p.user_id, p.role) for p in repo.company_permissions("acc1", "co1")} == {
        ("u1", CompanyRole.ADMIN), ("u2", CompanyRole.VIEWER),
    }  # fmt: skip
    assert {(p.company_id, p.role) for p in repo.user_permissions("acc1", "u1")} == {
        ("co1", CompanyRole.ADMIN), ("co2", CompanyRole.OPERATOR),
    }  # fmt: skip
    repo.grant(Permission("acc1", "co1", "u2", CompanyRole.OPERATOR, "u0", NOW))
    assert repo.role("acc1", "co1", "u2") is CompanyRole.OPERATOR
    repo.revoke("acc1", "co1", "u2")
    assert repo.role("acc1", "co1", "u2") is None
    with pytest.raises(RecordNotFound):
        repo.revoke("acc1", "co1", "u2")


def test_ids_with_the_key_separator_are_refused(tables):
    with pytest.raises(InvalidValue, match="company_id"):
        CompanyRepository().role("acc1", "co#1", "u1")
