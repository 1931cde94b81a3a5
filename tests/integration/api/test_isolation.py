"""Tenant isolation by enumeration: every route, every resource of account B, asked by A's owner.

Each answer must be the 404 a nonexistent id gets, word for word (only ``instance``, the path the
caller sent, differs), and B's data must be untouched afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.client import Api, Reply
from tests.integration.api.world import World, a1_upload

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

# A nonexistent id of each shape FiscalMix hands out.
MISSING = {"company": "0" * 32, "certificate": "01" + "0" * 24, "user": "01" + "1" * 24}


def _routes(world: World) -> list[tuple[str, str, dict[str, str], Any]]:
    """(method, path template, ids of B to fill it with, body) for every route taking an id."""
    b_ids = {"company": world.company_b, "certificate": world.certificate_b, "user": world.viewer_b_id}
    a_company = {"company": world.company_a}
    upload = a1_upload(world.cnpj_b)
    return [
        ("GET", "/companies/{company}", b_ids, None),
        ("PATCH", "/companies/{company}", b_ids, {"ie": "123456"}),
        ("POST", "/companies/{company}/deactivate", b_ids, None),
        ("POST", "/companies/{company}/activate", b_ids, None),
        ("GET", "/companies/{company}/certificates", b_ids, None),
        ("POST", "/companies/{company}/certificates/a1", b_ids, upload),
        ("DELETE", "/companies/{company}/certificates/{certificate}", b_ids, None),
        ("GET", "/companies/{company}/permissions", b_ids, None),
        ("PUT", "/companies/{company}/permissions/{user}", b_ids, {"role": "ADMIN"}),
        ("DELETE", "/companies/{company}/permissions/{user}", b_ids, None),
        # A's own company with B's certificate or user inside it.
        ("DELETE", "/companies/{company}/certificates/{certificate}", {**b_ids, **a_company}, None),
        ("PUT", "/companies/{company}/permissions/{user}", {**b_ids, **a_company}, {"role": "ADMIN"}),
        ("DELETE", "/companies/{company}/permissions/{user}", {**b_ids, **a_company}, None),
        ("PATCH", "/account/users/{user}", b_ids, {"account_role": "ADMIN"}),
    ]


def _same_but_path(b: Reply, missing: Reply) -> bool:
    return {**b.body, "instance": ""} == {**missing.body, "instance": ""}


def test_every_route_answers_a_resource_of_b_as_if_it_did_not_exist(api: Api, world: World) -> None:
    for method, template, b_ids, body in _routes(world):
        missing_ids = {k: (v if v == world.company_a else MISSING[k]) for k, v in b_ids.items()}
        b_path, missing_path = template.format(**b_ids), template.format(**missing_ids)
        of_b = api.call(method, b_path, world.owner_a, body=body)
        of_nobody = api.call(method, missing_path, world.owner_a, body=body)
        assert of_b.status == of_nobody.status == 404, (method, template, of_b.body, of_nobody.body)
        assert of_b.content_type == "application/problem+json"
        assert of_b.body["instance"] == b_path
        assert _same_but_path(of_b, of_nobody), (method, template, of_b.body, of_nobody.body)


def test_filters_naming_b_resources_find_nothing(api: Api, world: World) -> None:
    for query in (
        {"entity_type": "company", "entity_id": world.company_b},
        {"entity_type": "certificate", "entity_id": world.certificate_b},
        {"user_id": world.viewer_b_id},
    ):
        reply = api.call("GET", "/audit-logs", world.owner_a, query=query)
        assert (reply.status, reply.body["items"]) == (200, []), query


def test_lists_hold_only_the_callers_account(api: Api, world: World) -> None:
    companies = api.call("GET", "/companies", world.owner_a).body["items"]
    assert [c["company_id"] for c in companies] == [world.company_a]
    emails = {u["email"] for u in api.call("GET", "/account/users", world.owner_a).body["items"]}
    assert emails == {"owner@a.example"}
    log = api.call("GET", "/audit-logs", world.owner_a).body["items"]
    assert {e["entity_id"] for e in log} <= {world.company_a, companies[0]["company_id"]} | {
        e["entity_id"] for e in log if e["entity_type"] == "account"
    }


def test_a_cursor_of_another_list_is_refused(api: Api, world: World) -> None:
    page = api.call("GET", "/audit-logs", world.owner_b, query={"limit": "1"}).body
    assert page["next_cursor"]
    reply = api.call("GET", "/audit-logs", world.owner_a, query={"cursor": page["next_cursor"]})
    assert reply.status == 422
    assert reply.body["errors"][0]["field"] == "cursor"


def test_b_is_untouched_after_the_enumeration(api: Api, world: World) -> None:
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
