"""Tenant isolation by enumeration: every route, every resource of account B, asked by A's owner.

The operations come from the served OpenAPI document: every one that takes an id (a path
parameter, a ``*_id`` query parameter, a ``*_id`` field of its body) must have a case in
``_cases``, so a new route without one fails here by name. Each case is sent twice, naming B's
resource and naming a nonexistent one of the same shape; both answers must be the same, word for
word (only ``instance``, the path the caller sent, differs): the 404 of an id that names nothing,
or, for a filter (the audit log's), the same empty page. B's data must be untouched afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.api.client import Api, Reply
from tests.integration.api.world import EXPORT_KEY_B, World, a1_upload, nfe_of_b, upload

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

METHODS = ("get", "put", "post", "delete", "patch")
# An id names something when the parameter or body field that carries it is called ``*_id``.
ID_NAME = re.compile(r".*_id")
NOT_FOUND = "/problems/not-found"


@dataclass(frozen=True)
class Case:
    """One request naming resources: ``ids`` maps each ``{placeholder}`` to the kind it names."""

    method: str
    path: str  # as the OpenAPI document spells it
    ids: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    upload: bytes | None = None  # the file of an import, sent as the body itself
    status: int = 404


def _b_ids(world: World) -> dict[str, str]:
    """Each kind of resource of B, and A's own company (which B's ids are then looked up in)."""
    return {
        "company": world.company_b,
        "certificate": world.certificate_b,
        "user": world.viewer_b_id,
        "owner": world.owner_b_id,
        "agent": world.agent_b,
        "document": world.document_b,
        "key_in_a": f"{world.company_a}.{world.access_key_b}",  # B's access key under A's company
        "export": world.export_b,
        "own_company": world.company_a,
    }


def _missing_ids(world: World) -> dict[str, str]:
    """An id of each kind, shaped like B's, that names nothing anywhere."""
    nowhere = f"{'0' * 32}.{world.access_key_b}"
    return {
        "company": "0" * 32,
        "certificate": "01" + "0" * 24,
        "user": "01" + "1" * 24,
        "owner": "f" * 32,  # a signed-up user's id is a hex UUID, an invited one's a ULID
        "agent": "agt_01" + "2" * 24,
        "document": nowhere,
        "key_in_a": nowhere,
        "export": "01" + "3" * 24,
        "own_company": world.company_a,
    }


def _cases(world: World) -> list[Case]:
    b = {"company_id": "company"}
    in_a = {"company_id": "own_company"}
    documents = ({"document_id": "document"}, {"document_id": "key_in_a"})
    audit = [
        Case(
            "GET",
            "/audit-logs",
            {"entity_id": kind},
            {"entity_type": name, "entity_id": "{entity_id}"},
            status=200,
        )
        for kind, name in (
            ("company", "company"),
            ("certificate", "certificate"),
            ("user", "user"),
            ("document", "document"),
            ("export", "export"),
            ("agent", "agent"),
        )
    ]
    return [
        Case("GET", "/companies/{company_id}", b),
        Case("PATCH", "/companies/{company_id}", b, body={"ie": "123456"}),
        Case("POST", "/companies/{company_id}/deactivate", b),
        Case("POST", "/companies/{company_id}/activate", b),
        Case("GET", "/companies/{company_id}/certificates", b),
        Case("POST", "/companies/{company_id}/certificates/a1", b, body=a1_upload(world.cnpj_b)),
        *(
            Case(
                "DELETE",
                "/companies/{company_id}/certificates/{certificate_id}",
                {**c, "certificate_id": "certificate"},
            )
            for c in (b, in_a)
        ),
        Case("POST", "/companies/{company_id}/certificates/a3/pair", b, body={"code": "K7QH3MZP"}),
        Case("GET", "/companies/{company_id}/agents", b),
        *(
            Case("POST", "/companies/{company_id}/agents/{agent_id}/revoke", {**c, "agent_id": "agent"})
            for c in (b, in_a)
        ),
        Case("GET", "/companies/{company_id}/permissions", b),
        *(
            Case(method, "/companies/{company_id}/permissions/{user_id}", {**c, "user_id": "user"}, body=body)
            for c in (b, in_a)
            for method, body in (("PUT", {"role": "ADMIN"}), ("DELETE", None))
        ),
        Case("POST", "/companies/{company_id}/sync", b, body={"families": ["NFE"]}),
        Case("POST", "/companies/{company_id}/sync", b),
        Case("GET", "/companies/{company_id}/sync-runs", b),
        Case("GET", "/companies/{company_id}/sync-status", b),
        *(
            Case("PATCH", "/account/users/{user_id}", {"user_id": u}, body={"account_role": "ADMIN"})
            for u in ("user", "owner")
        ),
        *(
            Case("GET", f"/documents/{{document_id}}{suffix}", d)
            for d in documents
            for suffix in ("", "/xml", "/pdf")
        ),
        *(
            Case("POST", "/documents/{document_id}/manifestacao", d, body={"type": "confirmacao"})
            for d in documents
        ),
        Case("GET", "/documents", b, {"company_id": "{company_id}"}),
        Case("GET", "/documents", b, {"company_id": "{company_id}", "access_key": world.access_key_b}),
        Case(
            "POST", "/documents/import", b, {"company_id": "{company_id}"}, upload=nfe_of_b(world.cnpj_b, 2)
        ),
        Case("POST", "/exports", b, body={"filters": {"company_id": "{company_id}"}}),
        Case(
            "POST",
            "/exports",
            b,
            body={"filters": {"company_id": "{company_id}"}, "idempotency_key": EXPORT_KEY_B},
        ),
        Case("GET", "/exports/{export_id}", {"export_id": "export"}),
        Case("GET", "/exports/{export_id}/download", {"export_id": "export"}),
        Case("GET", "/audit-logs", {"user_id": "owner"}, {"user_id": "{user_id}"}, status=200),
        *audit,
    ]


def _fill(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _send(api: Api, world: World, case: Case, by_kind: Mapping[str, str]) -> tuple[str, Reply]:
    ids = {placeholder: by_kind[kind] for placeholder, kind in case.ids.items()}
    path, query = _fill(case.path, ids), _fill(dict(case.query), ids)
    if case.upload is not None:
        return path, upload(api, world.owner_a, query["company_id"], case.upload)
    return path, api.call(case.method, path, world.owner_a, body=_fill(case.body, ids), query=query or None)


def _schema_fields(schema: Any, schemas: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> set[str]:
    """The names of every property of a JSON schema, however deep, its references followed."""
    if not isinstance(schema, dict):
        return set()
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else _schema_fields(schemas[name], schemas, seen | {name})
    names: set[str] = set()
    for key, value in schema.items():
        if key == "properties":
            names |= set(value)
            values = value.values()
        else:
            values = value if isinstance(value, list) else [value]
        for sub in values:
            names |= _schema_fields(sub, schemas, seen)
    return names


def _operations_naming_ids(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation with a path parameter, or a query or body field ``*_id``."""
    schemas = document.get("components", {}).get("schemas", {})
    found = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            parameters = operation.get("parameters", [])
            bodies = operation.get("requestBody", {}).get("content", {}).values()
            fields = set().union(*(_schema_fields(b.get("schema"), schemas) for b in bodies))
            if (
                any(p["in"] == "path" for p in parameters)
                or any(p["in"] == "query" and ID_NAME.fullmatch(p["name"]) for p in parameters)
                or any(ID_NAME.fullmatch(f) for f in fields)
            ):
                found.add((method.upper(), path))
    return found


@pytest.fixture(scope="module", autouse=True)
def b_before(api: Api, world: World) -> dict[str, Any]:
    """B's resources as B's owner sees them before this module asks anything."""
    return _b_view(api, world)


def _b_view(api: Api, world: World) -> dict[str, Any]:
    company = f"/companies/{world.company_b}"
    paths = {
        "document": f"/documents/{world.document_b}",
        "documents": "/documents",
        "export": f"/exports/{world.export_b}",
        "exports": "/exports",
        "agents": f"{company}/agents",
        "certificates": f"{company}/certificates",
        "permissions": f"{company}/permissions",
        "sync-runs": f"{company}/sync-runs",
    }
    view = {}
    for name, path in paths.items():
        query = {"company_id": world.company_b} if name == "documents" else None
        reply = api.call("GET", path, world.owner_b, query=query)
        assert reply.status == 200, (path, reply.body)
        view[name] = reply.body
    return view


def test_every_operation_naming_an_id_has_an_isolation_case(api: Api, world: World) -> None:
    document = api.call("GET", "/openapi.json").body
    naming = _operations_naming_ids(document)
    enumerated = {(c.method, c.path) for c in _cases(world)}
    assert not naming - enumerated, f"operations without an isolation case: {sorted(naming - enumerated)}"
    assert not enumerated - naming, f"cases of no operation the API serves: {sorted(enumerated - naming)}"


def test_b_ids_and_missing_ids_have_the_same_shape(world: World) -> None:
    b, missing = _b_ids(world), _missing_ids(world)
    assert b.keys() == missing.keys()
    for kind in b:
        shape = (re.sub(r"[0-9A-Za-z]", "x", b[kind]), re.sub(r"[0-9A-Za-z]", "x", missing[kind]))
        assert shape[0] == shape[1], (kind, b[kind], missing[kind])


def test_every_route_answers_a_resource_of_b_as_if_it_did_not_exist(api: Api, world: World) -> None:
    b_ids, missing_ids = _b_ids(world), _missing_ids(world)
    leaks = []
    for case in _cases(world):
        b_path, of_b = _send(api, world, case, b_ids)
        _, of_nobody = _send(api, world, case, missing_ids)
        label = f"{case.method} {case.path} {dict(case.ids)}"
        same = (
            (of_b.status, of_b.content_type) == (of_nobody.status, of_nobody.content_type)
            and isinstance(of_b.body, dict)
            and {**of_b.body, "instance": ""} == {**of_nobody.body, "instance": ""}
        )
        if not same or of_b.status != case.status:
            leaks.append(
                f"{label}: B's -> {of_b.status} {of_b.body}; nobody's -> {of_nobody.status} {of_nobody.body}"
            )
        elif case.status == 404 and (
            of_b.content_type != "application/problem+json"
            or of_b.body["type"] != NOT_FOUND
            or of_b.body["instance"] != b_path
        ):
            leaks.append(f"{label}: not the not-found problem of {b_path}: {of_b.content_type} {of_b.body}")
        elif case.status == 200:
            assert of_b.body["items"] == [], (label, of_b.body)
    assert not leaks, "\n".join(leaks)


def test_a_cursor_of_another_list_is_refused(api: Api, world: World) -> None:
    page = api.call("GET", "/audit-logs", world.owner_b, query={"limit": "1"}).body
    assert page["next_cursor"]
    reply = api.call("GET", "/audit-logs", world.owner_a, query={"cursor": page["next_cursor"]})
    assert reply.status == 422
    assert reply.body["errors"][0]["field"] == "cursor"


def test_an_idempotency_key_of_b_makes_a_new_export_of_a(api: Api, world: World) -> None:
    body = {"filters": {"company_id": world.company_a}, "idempotency_key": EXPORT_KEY_B}
    reply = api.call("POST", "/exports", world.owner_a, body=body)
    assert reply.status == 202, reply.body
    assert reply.body["id"] != world.export_b
    assert reply.body["filters"] == {"company_id": world.company_a}
    assert reply.body["requested_by"] != world.owner_b_id


def test_lists_hold_only_the_callers_account(api: Api, world: World) -> None:
    companies = api.call("GET", "/companies", world.owner_a).body["items"]
    assert [c["company_id"] for c in companies] == [world.company_a]
    emails = {u["email"] for u in api.call("GET", "/account/users", world.owner_a).body["items"]}
    assert emails == {"owner@a.example"}
    log = api.call("GET", "/audit-logs", world.owner_a).body["items"]
    assert {e["entity_id"] for e in log} <= {world.company_a, companies[0]["company_id"]} | {
        e["entity_id"] for e in log if e["entity_type"] in ("account", "export")
    }
    documents = api.call("GET", "/documents", world.owner_a)
    assert (documents.status, documents.body["items"]) == (200, [])
    exports = api.call("GET", "/exports", world.owner_a).body["items"]
    assert world.export_b not in {e["id"] for e in exports}
    assert all(e["filters"].get("company_id") == world.company_a for e in exports)
    agents = api.call("GET", f"/companies/{world.company_a}/agents", world.owner_a)
    assert (agents.status, agents.body["items"]) == (200, [])


def test_b_is_untouched_after_the_enumeration(api: Api, world: World, b_before: dict[str, Any]) -> None:
    company = api.call("GET", f"/companies/{world.company_b}", world.owner_b).body
    assert company["active"] is True
    assert company["ie"] is None
    assert company["certificate"]["certificate_id"] == world.certificate_b
    (certificate,) = api.call("GET", f"/companies/{world.company_b}/certificates", world.owner_b).body[
        "items"
    ]
    assert certificate["status"] == "ACTIVE"
    roles = api.call("GET", f"/companies/{world.company_b}/permissions", world.owner_b).body["items"]
    assert {(p["user_id"], p["role"]) for p in roles} == {
        (world.viewer_b_id, "VIEWER"),
        (world.operator_b_id, "OPERATOR"),
    }
    users = api.call("GET", "/account/users", world.owner_b).body["items"]
    assert {u["account_role"] for u in users if u["user_id"] == world.viewer_b_id} == {"MEMBER"}
    after = _b_view(api, world)
    assert after == b_before
    assert [d["id"] for d in after["documents"]["items"]] == [world.document_b]
    assert after["document"]["manifestacao"] is None
    assert [(e["id"], e["status"]) for e in after["exports"]["items"]] == [(world.export_b, "SUCCEEDED")]
    assert [(a["agent_id"], a["status"]) for a in after["agents"]["items"]] == [(world.agent_b, "ACTIVE")]
    assert after["sync-runs"]["items"] == []
