"""The audit log: what mutations write, and the filters of GET /audit-logs."""

from __future__ import annotations

from local.fixtures.identities import cnpj_for


def _setup(call, directory) -> tuple[str, str]:
    directory.add("owner", "owner@example.com")
    owner_id = call("GET", "/me", sub="owner").body["user"]["user_id"]
    company = call(
        "POST", "/companies", sub="owner", body={"cnpj": cnpj_for("a"), "legal_name": "A", "uf": "SP"}
    )
    company_id = company.body["company_id"]
    call("PATCH", f"/companies/{company_id}", sub="owner", body={"tags": ["x"]})
    call("PATCH", "/account", sub="owner", body={"name": "Escritório"})
    return owner_id, company_id


def test_every_mutation_is_recorded_with_who_and_from_where(call, directory) -> None:
    owner_id, company_id = _setup(call, directory)
    entries = call("GET", "/audit-logs", sub="owner").body["items"]
    assert [e["action"] for e in entries] == [
        "account.update",
        "company.update",
        "company.create",
        "account.create",
    ]
    assert all(e["user_id"] == owner_id and e["ip"] == "198.51.100.7" for e in entries)
    assert entries[1]["details"] == {"fields": ["tags"]}
    assert entries[1]["company_id"] == company_id


def test_filters_by_entity_user_action_and_period(call, directory) -> None:
    owner_id, company_id = _setup(call, directory)

    def actions(**query: str) -> list[str]:
        reply = call("GET", "/audit-logs", sub="owner", query=query)
        assert reply.status == 200, reply.body
        return [e["action"] for e in reply.body["items"]]

    assert actions(entity_type="company", entity_id=company_id) == ["company.update", "company.create"]
    assert actions(user_id=owner_id, action="company.create") == ["company.create"]
    assert actions(action="account.update") == ["account.update"]
    assert actions(start="2999-01-01T00:00:00Z") == []
    assert actions(end="2000-01-01T00:00:00Z") == []
    assert len(actions(start="2000-01-01T00:00:00Z", end="2999-01-01T00:00:00Z")) == 4


def test_invalid_filters_are_named(call, directory) -> None:
    _setup(call, directory)
    for query, field in (
        ({"entity_type": "company"}, "entity_id"),
        ({"user_id": "u", "entity_type": "company", "entity_id": "c"}, "user_id"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start"),
        ({"start": "2026-01-02T00:00:00"}, "start"),
    ):
        reply = call("GET", "/audit-logs", sub="owner", query=query)
        assert reply.status == 422, query
        assert field in {e["field"] for e in reply.body["errors"]}, (query, reply.body)


def test_pages_go_newest_first_and_follow_the_cursor(call, directory) -> None:
    _setup(call, directory)
    first = call("GET", "/audit-logs", sub="owner", query={"limit": "3"}).body
    second = call(
        "GET", "/audit-logs", sub="owner", query={"limit": "3", "cursor": first["next_cursor"]}
    ).body
    assert [e["action"] for e in first["items"] + second["items"]][-1] == "account.create"
    assert len(first["items"]) == 3
