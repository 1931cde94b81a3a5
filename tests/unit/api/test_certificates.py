"""A1 certificates: every check, sealed storage, listing, revocation, and no secret anywhere."""

from __future__ import annotations

import base64
import logging

import boto3
import pytest
from cryptography.hazmat.primitives import hashes

from fiscal_core.crypto.envelope import EncryptionContext
from fiscal_core.errors import EncryptionError
from fiscal_core.observability import logger as api_logger
from local.fixtures.certificates import Variant
from local.fixtures.identities import cnpj_for
from tests.unit.api import certs
from tests.unit.api.conftest import PREFIX, REGION

CNPJ = cnpj_for("acme")


@pytest.fixture
def company(call, directory) -> str:
    directory.add("owner", "owner@example.com")
    call("GET", "/me", sub="owner")
    body = {"cnpj": CNPJ, "legal_name": "ACME LTDA", "uf": "SP"}
    company_id: str = call("POST", "/companies", sub="owner", body=body).body["company_id"]
    return company_id


def test_upload_answers_the_certificate_facts_and_the_list_shows_its_state(call, company) -> None:
    expected = certs.issued(CNPJ)
    body = certs.body(expected.to_pfx(certs.PASSWORD))
    reply = call("POST", f"/companies/{company}/certificates/a1", sub="owner", body=body)
    assert reply.status == 201, reply.body
    cert = reply.body
    assert cert["cnpj"] == CNPJ
    assert cert["fingerprint_sha256"] == expected.certificate.fingerprint(hashes.SHA256()).hex()
    assert cert["in_use"] is True
    assert 360 <= cert["days_to_expiry"] <= 366
    assert cert["issuer"] == expected.certificate.issuer.rfc4514_string()
    assert not {"pfx", "password", "private_key"} & set(cert)
    listed = call("GET", f"/companies/{company}/certificates", sub="owner").body["items"]
    assert [c["certificate_id"] for c in listed] == [cert["certificate_id"]]
    state = call("GET", "/companies", sub="owner").body["items"][0]["certificate"]
    assert state["certificate_id"] == cert["certificate_id"]
    assert state["state"] == "VALID"
    again = call("POST", f"/companies/{company}/certificates/a1", sub="owner", body=body)
    assert again.status == 409


@pytest.mark.parametrize(
    ("variant", "words"),
    [
        (Variant.EXPIRED, "expired"),
        (Variant.NOT_YET_VALID, "valid only from"),
        (Variant.OTHER_CNPJ, "belongs to CNPJ"),
        (Variant.SELF_SIGNED, "self-signed"),
    ],
)
def test_unusable_certificates_are_refused_with_what_to_do(call, company, variant, words) -> None:
    reply = call(
        "POST", f"/companies/{company}/certificates/a1", sub="owner", body=certs.upload(CNPJ, variant)
    )
    assert reply.status == 422
    assert reply.body["type"] == "/problems/certificate-rejected"
    assert words in reply.body["detail"]


def test_a_certificate_with_the_cnpj_only_in_its_cn_is_accepted(call, company) -> None:
    body = certs.upload(CNPJ, Variant.WITHOUT_SAN)
    reply = call("POST", f"/companies/{company}/certificates/a1", sub="owner", body=body)
    assert reply.status == 201
    assert reply.body["cnpj"] == CNPJ


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (certs.upload(CNPJ, password="wrong"), "password does not open"),
        (certs.body(b"this is not a pfx at all"), "not a PFX"),
        (certs.body(b"\x30" * (65 * 1024)), "at most 64 KB"),
        ({"pfx": "***not base64***", "password": "x"}, "not base64"),
        (certs.body(certs.with_foreign_chain(CNPJ)), "chain in the file does not verify"),
    ],
)
def test_bad_files_are_refused_with_what_to_do(call, company, body, words) -> None:
    reply = call("POST", f"/companies/{company}/certificates/a1", sub="owner", body=body)
    assert reply.status == 422
    assert words in reply.body["detail"]


def test_neither_the_password_nor_the_file_is_logged_stored_or_answered(
    call, company, caplog, capsys
) -> None:
    body = certs.upload(CNPJ)
    api_logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            reply = call("POST", f"/companies/{company}/certificates/a1", sub="owner", body=body)
            wrong = call(
                "POST",
                f"/companies/{company}/certificates/a1",
                sub="owner",
                body={**body, "password": certs.PASSWORD + "x"},
            )
    finally:
        api_logger.setLevel(logging.INFO)
    assert reply.status == 201
    assert wrong.status in (409, 422)
    logged = caplog.text + capsys.readouterr().out
    pfx_bytes = base64.b64decode(body["pfx"])
    for secret in (certs.PASSWORD, body["pfx"][:40]):
        assert secret not in logged
        assert secret not in str(reply.body)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    stored = str(dynamodb.scan(TableName=f"{PREFIX}-Certificates")["Items"])
    audit = str(dynamodb.scan(TableName=f"{PREFIX}-AuditLogs")["Items"])
    for secret in (certs.PASSWORD, certs.PASSWORD.encode().hex(), pfx_bytes[:64].hex()):
        assert secret not in stored
        assert secret not in audit
    assert certs.PASSWORD not in str(dynamodb.scan(TableName=f"{PREFIX}-AuditLogs")["Items"])


def test_sealed_material_opens_only_under_its_own_context(call, company, services) -> None:
    cert_id = call(
        "POST", f"/companies/{company}/certificates/a1", sub="owner", body=certs.upload(CNPJ)
    ).body["certificate_id"]
    account_id = call("GET", "/me", sub="owner").body["account"]["account_id"]
    record = services.certificates.get(account_id, cert_id)
    assert record.pfx is not None and record.password is not None
    password = services.cipher.decrypt(
        record.password, EncryptionContext(account_id, company, cert_id, "certificate-password")
    )
    assert password.decode() == certs.PASSWORD
    with pytest.raises(EncryptionError):
        services.cipher.decrypt(
            record.pfx, EncryptionContext(account_id, company, cert_id, "certificate-password")
        )


def test_revoke_drops_the_material_and_the_company_stops_using_it(call, company, services) -> None:
    cert_id = call(
        "POST", f"/companies/{company}/certificates/a1", sub="owner", body=certs.upload(CNPJ)
    ).body["certificate_id"]
    assert call("DELETE", f"/companies/{company}/certificates/{cert_id}", sub="owner").status == 204
    (listed,) = call("GET", f"/companies/{company}/certificates", sub="owner").body["items"]
    assert (listed["status"], listed["in_use"]) == ("REVOKED", False)
    assert call("GET", f"/companies/{company}", sub="owner").body["certificate"] is None
    assert call("DELETE", f"/companies/{company}/certificates/{cert_id}", sub="owner").status == 204
    assert call("DELETE", f"/companies/{company}/certificates/01NOSUCHCERT", sub="owner").status == 404
    actions = [
        e["action"]
        for e in call(
            "GET", "/audit-logs", sub="owner", query={"entity_type": "certificate", "entity_id": cert_id}
        ).body["items"]
    ]
    assert actions == ["certificate.revoke", "certificate.upload"]


def test_operators_and_viewers_cannot_manage_certificates(call, company, directory) -> None:
    call("POST", "/account/users", sub="owner", body={"email": "op@example.com"})
    operator = next(u.sub for u in directory.users.values() if u.email == "op@example.com")
    operator_id = call("GET", "/me", sub=operator).body["user"]["user_id"]
    call("PUT", f"/companies/{company}/permissions/{operator_id}", sub="owner", body={"role": "OPERATOR"})
    reply = call("POST", f"/companies/{company}/certificates/a1", sub=operator, body=certs.upload(CNPJ))
    assert reply.status == 403
    assert "ADMIN role" in reply.body["detail"]
    assert call("GET", f"/companies/{company}/certificates", sub=operator).status == 200
