"""Role limits through the gateway: what a viewer, an operator and a member without a role get."""

from __future__ import annotations

from typing import Any

import pytest

from local.fixtures.identities import cnpj_for
from tests.integration.api.client import Api, Users
from tests.integration.api.world import World, a1_upload, nfe_of_b, upload

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]


def _changes(world: World) -> list[tuple[str, str, Any]]:
    """Every mutation a user of B could try on B's company or B's account."""
    company = f"/companies/{world.company_b}"
    return [
        ("PATCH", company, {"ie": "123456"}),
        ("POST", f"{company}/deactivate", None),
        ("POST", f"{company}/activate", None),
        ("POST", f"{company}/certificates/a1", a1_upload(world.cnpj_b)),
        ("DELETE", f"{company}/certificates/{world.certificate_b}", None),
        ("PUT", f"{company}/permissions/{world.operator_b_id}", {"role": "ADMIN"}),
        ("DELETE", f"{company}/permissions/{world.operator_b_id}", None),
        ("POST", "/companies", {"cnpj": cnpj_for("new"), "legal_name": "Nova", "uf": "SP"}),
        ("POST", "/account/users", {"email": "new@b.example"}),
        ("PATCH", f"/account/users/{world.viewer_b_id}", {"account_role": "ADMIN"}),
        ("PATCH", "/account", {"name": "Renamed"}),
        # Acting on SEFAZ, on the documents and on the A3 agents of B's company.
        ("POST", f"{company}/sync", None),
        ("POST", f"/documents/{world.document_b}/manifestacao", {"type": "confirmacao"}),
        ("POST", f"{company}/certificates/a3/pair", {"code": "K7QH3MZP"}),
        ("POST", f"{company}/agents/{world.agent_b}/revoke", None),
    ]


# Changes a viewer may make: exporting what they can read is reading.
VIEWER_MAY: set[tuple[str, str]] = {("POST", "/exports")}
# The import sends the file as its body, so it is tried apart (``upload``).
IMPORT = ("POST", "/documents/import")


def _template(path: str, world: World) -> str:
    """``path`` with B's ids put back as the OpenAPI document names them."""
    for name, value in (
        # A document's id starts with its company's: it goes first.
        ("document_id", world.document_b), ("company_id", world.company_b),
        ("certificate_id", world.certificate_b), ("user_id", world.viewer_b_id),
        ("user_id", world.operator_b_id), ("agent_id", world.agent_b),
    ):  # fmt: skip
        path = path.replace(value, "{" + name + "}")
    return path


def test_every_change_the_api_offers_is_tried_by_the_role_tests(api: Api, world: World) -> None:
    document = api.call("GET", "/openapi.json").body
    changes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"post", "put", "patch", "delete"}
    }
    tried = {(method, _template(path, world)) for method, path, _ in _changes(world)} | VIEWER_MAY | {IMPORT}
    assert not changes - tried, f"changes no role test tries: {sorted(changes - tried)}"


def test_a_viewer_can_read_but_change_nothing(api: Api, world: World) -> None:
    assert api.call("GET", f"/companies/{world.company_b}", world.viewer_b).status == 200
    assert api.call("GET", f"/companies/{world.company_b}/certificates", world.viewer_b).status == 200
    for method, path, body in _changes(world):
        reply = api.call(method, path, world.viewer_b, body=body)
        assert reply.status == 403, (method, path, reply.body)
        assert reply.body["type"] == "/problems/forbidden"
    imported = upload(api, world.viewer_b, world.company_b, nfe_of_b(world.cnpj_b, 990))
    assert imported.status == 403, imported.body
    assert api.call("GET", "/audit-logs", world.viewer_b).status == 403


@pytest.mark.parametrize(
    "change",
    [
        "certificates/a1",
        "certificates/{certificate}",
        "permissions/{user}",
        "/account/users",
        "/account/users/{user}",
        "certificates/a3/pair",
        "agents/{agent}/revoke",
    ],
)
def test_an_operator_cannot_manage_users_or_certificates(api: Api, world: World, change: str) -> None:
    company = f"/companies/{world.company_b}"
    calls = {
        "certificates/a1": ("POST", f"{company}/certificates/a1", a1_upload(world.cnpj_b)),
        "certificates/{certificate}": ("DELETE", f"{company}/certificates/{world.certificate_b}", None),
        "permissions/{user}": ("PUT", f"{company}/permissions/{world.viewer_b_id}", {"role": "ADMIN"}),
        "/account/users": ("POST", "/account/users", {"email": "x@b.example"}),
        "/account/users/{user}": ("PATCH", f"/account/users/{world.viewer_b_id}", {"account_role": "ADMIN"}),
        "certificates/a3/pair": ("POST", f"{company}/certificates/a3/pair", {"code": "K7QH3MZP"}),
        "agents/{agent}/revoke": ("POST", f"{company}/agents/{world.agent_b}/revoke", None),
    }
    method, path, body = calls[change]
    reply = api.call(method, path, world.operator_b, body=body)
    assert reply.status == 403, reply.body
    assert "role" in reply.body["detail"]


def test_a_member_without_a_role_does_not_see_the_company(api: Api, world: World) -> None:
    assert api.call("GET", "/companies", world.outsider_b).body["items"] == []
    for method, path, body in _changes(world)[:7]:
        assert api.call(method, path, world.outsider_b, body=body).status == 404, (method, path)


def test_account_owners_can_require_mfa_and_users_without_it_are_told_how(api: Api, users: Users) -> None:
    owner = users.sign_up("owner@mfa.example")
    assert api.call("GET", "/me", owner.access_token).status == 200
    refused = api.call("PATCH", "/account", owner.access_token, body={"require_mfa": True})
    assert refused.status == 409
    users.enable_totp(owner)
    assert api.call("PATCH", "/account", owner.access_token, body={"require_mfa": True}).status == 200
    assert (
        api.call("POST", "/account/users", owner.access_token, body={"email": "m@mfa.example"}).status == 201
    )
    member = users.accept_invitation("m@mfa.example")
    blocked = api.call("GET", "/companies", member.access_token)
    assert blocked.status == 403
    assert blocked.body["type"] == "/problems/mfa-required"
    assert "authenticator app" in blocked.body["detail"]
    assert api.call("GET", "/me", member.access_token).body["mfa"] == {
        "totp_enabled": False,
        "required": True,
    }
    users.enable_totp(member)
    assert api.call("GET", "/companies", member.access_token).status == 200
