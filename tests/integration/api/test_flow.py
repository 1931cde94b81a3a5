"""The seed's flow 3.1 end to end, and the public edge of the API, through the local gateway."""

from __future__ import annotations

import base64

import pytest

from local.fixtures.certificates import Variant, default_ca
from local.fixtures.identities import cnpj_for
from tests.integration.api.client import Api, Users

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]
PASSWORD = "senha-do-a1"


def _upload(cnpj: str, variant: Variant = Variant.VALID, password: str = PASSWORD) -> dict[str, str]:
    pfx = default_ca().issue_ecnpj(cnpj, "ACME LTDA", variant=variant).to_pfx(PASSWORD)
    return {"pfx": base64.b64encode(pfx).decode(), "password": password}


def test_public_routes_answer_without_a_token(api: Api) -> None:
    assert api.call("GET", "/health").body == {"status": "ok"}
    document = api.call("GET", "/openapi.json")
    assert document.status == 200
    assert document.body["openapi"].startswith("3.1")
    assert {"/companies", "/companies/{company_id}/certificates/a1", "/audit-logs", "/me"} <= set(
        document.body["paths"]
    )
    docs = api.call("GET", "/docs")
    assert docs.status == 200
    assert "text/html" in docs.content_type


def test_everything_else_needs_an_access_token(api: Api) -> None:
    for path in ("/me", "/companies", "/nowhere"):
        assert api.call("GET", path).status == 401
    assert api.call("GET", "/me", "not.a.token").status == 401


def test_unknown_routes_are_problem_details(api: Api, users: Users) -> None:
    login = users.sign_up("lost@example.com")
    reply = api.call("GET", "/nowhere", login.access_token)
    assert reply.status == 404
    assert reply.content_type == "application/problem+json"
    assert reply.body["instance"] == "/nowhere"


def test_flow_3_1_sign_up_company_a1_and_the_list_shows_the_certificate(api: Api, users: Users) -> None:
    login = users.sign_up("maria@contabil.example", "Maria Contadora")
    me = api.call("GET", "/me", login.access_token)
    assert me.status == 200
    assert (me.body["user"]["account_role"], me.body["account"]["name"]) == ("OWNER", "Maria Contadora")
    cnpj = cnpj_for("flow-3.1")
    created = api.call(
        "POST",
        "/companies",
        login.access_token,
        body={"cnpj": cnpj, "legal_name": "ACME LTDA", "uf": "SP", "municipio": "3550308"},
    )
    assert created.status == 201, created.body
    company_id = created.body["company_id"]
    uploaded = api.call(
        "POST", f"/companies/{company_id}/certificates/a1", login.access_token, body=_upload(cnpj)
    )
    assert uploaded.status == 201, uploaded.body
    assert uploaded.body["cnpj"] == cnpj
    assert len(uploaded.body["fingerprint_sha256"]) == 64
    (listed,) = api.call("GET", "/companies", login.access_token).body["items"]
    assert listed["certificate"]["certificate_id"] == uploaded.body["certificate_id"]
    assert listed["certificate"]["state"] == "VALID"
    assert listed["certificate"]["days_to_expiry"] >= 360
    log = api.call("GET", "/audit-logs", login.access_token).body["items"]
    assert [e["action"] for e in log] == ["certificate.upload", "company.create", "account.create"]
    assert all(e["ip"] == "127.0.0.1" and e["user_agent"] == "fiscalmix-tests" for e in log)


@pytest.mark.parametrize(
    ("variant", "password", "words"),
    [
        (Variant.EXPIRED, PASSWORD, "expired"),
        (Variant.NOT_YET_VALID, PASSWORD, "valid only from"),
        (Variant.OTHER_CNPJ, PASSWORD, "belongs to CNPJ"),
        (Variant.SELF_SIGNED, PASSWORD, "self-signed"),
        (Variant.VALID, "not-the-password", "password does not open"),
    ],
)
def test_unusable_certificates_are_422_problems(api: Api, users: Users, variant, password, words) -> None:
    email = f"cert-{variant.value}-{password[:3]}@example.com"
    token = users.sign_up(email).access_token
    cnpj = cnpj_for(email)
    company = api.call("POST", "/companies", token, body={"cnpj": cnpj, "legal_name": "X", "uf": "RJ"}).body
    reply = api.call(
        "POST",
        f"/companies/{company['company_id']}/certificates/a1",
        token,
        body=_upload(cnpj, variant, password),
    )
    assert reply.status == 422
    assert reply.content_type == "application/problem+json"
    assert reply.body["type"] == "/problems/certificate-rejected"
    assert words in reply.body["detail"]


def test_not_a_pfx_and_too_large_are_422_problems(api: Api, users: Users) -> None:
    token = users.sign_up("files@example.com").access_token
    cnpj = cnpj_for("files")
    company_id = api.call(
        "POST", "/companies", token, body={"cnpj": cnpj, "legal_name": "X", "uf": "RJ"}
    ).body["company_id"]
    path = f"/companies/{company_id}/certificates/a1"
    not_pfx = {"pfx": base64.b64encode(b"%PDF-1.7 not a certificate").decode(), "password": "x"}
    assert "not a PFX" in api.call("POST", path, token, body=not_pfx).body["detail"]
    too_large = {"pfx": base64.b64encode(bytes(70 * 1024)).decode(), "password": "x"}
    assert "at most 64 KB" in api.call("POST", path, token, body=too_large).body["detail"]
