"""Companies: registration, uniqueness, changes, deactivation, visibility, state in the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fiscal_core.storage.records import Family
from local.fixtures.identities import cnpj_for, cnpj_from_body

CNPJ = cnpj_for("acme")
NEW = {"cnpj": CNPJ, "legal_name": "ACME LTDA", "uf": "SP", "municipio": "3550308", "tags": ["cliente-a"]}


def _owner(call, directory, sub: str = "owner") -> str:
    directory.add(sub, f"{sub}@example.com")
    call("GET", "/me", sub=sub)
    return sub


def test_create_read_update_and_list(call, directory) -> None:
    owner = _owner(call, directory)
    created = call("POST", "/companies", sub=owner, body=NEW)
    assert created.status == 201
    company = created.body
    assert company["cnpj"] == CNPJ
    assert company["certificate"] is None
    assert company["sync"] == []
    company_id = company["company_id"]
    assert call("GET", f"/companies/{company_id}", sub=owner).body == company
    changed = call(
        "PATCH",
        f"/companies/{company_id}",
        sub=owner,
        body={"ie": "ISENTO", "auto_ciencia": True, "trade_name": None},
    )
    assert changed.status == 200
    assert (changed.body["ie"], changed.body["auto_ciencia"], changed.body["legal_name"]) == (
        "ISENTO",
        True,
        "ACME LTDA",
    )
    listed = call("GET", "/companies", sub=owner)
    assert [c["company_id"] for c in listed.body["items"]] == [company_id]
    actions = [e["action"] for e in call("GET", "/audit-logs", sub=owner).body["items"]]
    assert actions[:2] == ["company.update", "company.create"]


def test_alphanumeric_cnpj_is_accepted_and_punctuation_ignored(call, directory) -> None:
    owner = _owner(call, directory)
    alnum = cnpj_from_body("12ABC34501DE")
    punctuated = f"{alnum[:2]}.{alnum[2:5]}.{alnum[5:8]}/{alnum[8:12]}-{alnum[12:]}"
    created = call("POST", "/companies", sub=owner, body={**NEW, "cnpj": punctuated})
    assert created.status == 201
    assert created.body["cnpj"] == alnum


def test_duplicate_cnpj_in_the_account_is_a_conflict(call, directory) -> None:
    owner = _owner(call, directory)
    assert call("POST", "/companies", sub=owner, body=NEW).status == 201
    again = call("POST", "/companies", sub=owner, body={**NEW, "legal_name": "Outra"})
    assert again.status == 409
    assert again.body["type"] == "/problems/conflict"
    other = _owner(call, directory, "other")
    assert call("POST", "/companies", sub=other, body=NEW).status == 201  # another account may


def test_invalid_fields_are_named(call, directory) -> None:
    owner = _owner(call, directory)
    reply = call(
        "POST", "/companies", sub=owner, body={**NEW, "cnpj": CNPJ[:-1] + str((int(CNPJ[-1]) + 1) % 10)}
    )
    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} >= {"cnpj"}
    wrong_uf = call("POST", "/companies", sub=owner, body={**NEW, "municipio": "3304557"})
    assert wrong_uf.status == 422
    assert "municipio" in {e["field"] for e in wrong_uf.body["errors"]}


def test_deactivate_and_reactivate(call, directory) -> None:
    owner = _owner(call, directory)
    company_id = call("POST", "/companies", sub=owner, body=NEW).body["company_id"]
    assert call("POST", f"/companies/{company_id}/deactivate", sub=owner).body["active"] is False
    assert call("POST", f"/companies/{company_id}/activate", sub=owner).body["active"] is True


def test_members_see_only_the_companies_granted_and_act_within_their_role(call, directory) -> None:
    owner = _owner(call, directory)
    first = call("POST", "/companies", sub=owner, body=NEW).body["company_id"]
    second = call("POST", "/companies", sub=owner, body={**NEW, "cnpj": cnpj_for("beta")}).body["company_id"]
    call("POST", "/account/users", sub=owner, body={"email": "m@example.com"})
    member = next(u.sub for u in directory.users.values() if u.email == "m@example.com")
    member_id = call("GET", "/me", sub=member).body["user"]["user_id"]
    assert call("GET", "/companies", sub=member).body["items"] == []
    granted = call("PUT", f"/companies/{first}/permissions/{member_id}", sub=owner, body={"role": "VIEWER"})
    assert granted.status == 200
    assert [c["company_id"] for c in call("GET", "/companies", sub=member).body["items"]] == [first]
    assert call("GET", f"/companies/{second}", sub=member).status == 404
    assert call("PATCH", f"/companies/{first}", sub=member, body={"ie": "123"}).status == 403
    assert call("POST", "/companies", sub=member, body={**NEW, "cnpj": cnpj_for("gamma")}).status == 403
    me = call("GET", "/me", sub=member).body
    assert me["company_roles"] == [{"company_id": first, "role": "VIEWER"}]
    call("PUT", f"/companies/{first}/permissions/{member_id}", sub=owner, body={"role": "ADMIN"})
    assert call("PATCH", f"/companies/{first}", sub=member, body={"ie": "123"}).status == 200
    assert call("DELETE", f"/companies/{first}/permissions/{member_id}", sub=owner).status == 204
    assert call("GET", f"/companies/{first}", sub=member).status == 404


def test_pages_follow_the_cursor(call, directory) -> None:
    owner = _owner(call, directory)
    for seed in ("a", "b", "c"):
        call("POST", "/companies", sub=owner, body={**NEW, "cnpj": cnpj_for(seed)})
    first = call("GET", "/companies", sub=owner, query={"limit": "2"}).body
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = call("GET", "/companies", sub=owner, query={"limit": "2", "cursor": first["next_cursor"]}).body
    assert len(rest["items"]) == 1
    assert call("GET", "/companies", sub=owner, query={"limit": "0"}).status == 422


def test_sync_health_comes_from_the_cursors(call, directory, services) -> None:
    owner = _owner(call, directory)
    company = call("POST", "/companies", sub=owner, body=NEW).body
    account_id = call("GET", "/me", sub=owner).body["account"]["account_id"]
    services.cursors.ensure(account_id, company["company_id"], Family.NFE, CNPJ)
    lease = services.cursors.acquire(
        account_id, company["company_id"], Family.NFE, "run-1", timedelta(minutes=5)
    )
    later = datetime.now(UTC) + timedelta(hours=1)
    services.cursors.release(
        lease,
        next_allowed_at=later,
        block_reason="CAUGHT_UP",
        block_detail="Nothing new; next check in an hour.",
    )
    (health,) = call("GET", f"/companies/{company['company_id']}", sub=owner).body["sync"]
    assert health["family"] == "NFE"
    assert health["block_reason"] == "CAUGHT_UP"
    assert health["block_detail"] == "Nothing new; next check in an hour."
