"""Two accounts with something of everything, for the isolation and role tests.

Account A: its owner and one company. Account B: its owner, a company with an A1 certificate,
and three invited users: a VIEWER and an OPERATOR of that company, and a member with no role.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from local.fixtures.certificates import default_ca
from local.fixtures.identities import cnpj_for
from tests.integration.api.client import Api, Users

PFX_PASSWORD = "senha-do-a1-b"


def a1_upload(cnpj: str) -> dict[str, str]:
    """The upload body of a new valid test-CA certificate for ``cnpj``."""
    pfx = default_ca().issue_ecnpj(cnpj, "EMPRESA B LTDA").to_pfx(PFX_PASSWORD)
    return {"pfx": base64.b64encode(pfx).decode(), "password": PFX_PASSWORD}


@dataclass(frozen=True)
class World:
    """Tokens and ids of both accounts."""

    owner_a: str
    company_a: str
    owner_b: str
    company_b: str
    cnpj_b: str
    certificate_b: str
    viewer_b: str
    operator_b: str
    outsider_b: str  # a member of B with no role on company_b
    viewer_b_id: str
    operator_b_id: str


def build_world(api: Api, users: Users) -> World:
    owner_a = users.sign_up("owner@a.example").access_token
    company_a = _company(api, owner_a, cnpj_for("company-a"))
    owner_b = users.sign_up("owner@b.example").access_token
    cnpj_b = cnpj_for("company-b")
    company_b = _company(api, owner_b, cnpj_b)
    certificate = api.call("POST", f"/companies/{company_b}/certificates/a1", owner_b, body=a1_upload(cnpj_b))
    assert certificate.status == 201, certificate.body
    tokens, ids = {}, {}
    for who, role in (("viewer", "VIEWER"), ("operator", "OPERATOR"), ("outsider", None)):
        email = f"{who}@b.example"
        invited = api.call("POST", "/account/users", owner_b, body={"email": email, "name": who})
        assert invited.status == 201, invited.body
        ids[who] = invited.body["user_id"]
        tokens[who] = users.accept_invitation(email).access_token
        if role:
            path = f"/companies/{company_b}/permissions/{ids[who]}"
            assert api.call("PUT", path, owner_b, body={"role": role}).status == 200
    return World(
        owner_a=owner_a,
        company_a=company_a,
        owner_b=owner_b,
        company_b=company_b,
        cnpj_b=cnpj_b,
        certificate_b=certificate.body["certificate_id"],
        viewer_b=tokens["viewer"],
        operator_b=tokens["operator"],
        outsider_b=tokens["outsider"],
        viewer_b_id=ids["viewer"],
        operator_b_id=ids["operator"],
    )


def _company(api: Api, token: str, cnpj: str) -> str:
    reply = api.call(
        "POST", "/companies", token, body={"cnpj": cnpj, "legal_name": f"Empresa {cnpj}", "uf": "SP"}
    )
    assert reply.status == 201, reply.body
    company_id: str = reply.body["company_id"]
    return company_id
