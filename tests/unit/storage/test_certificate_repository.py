"""Certificates against moto: an A1 PFX sealed with the envelope cipher survives storage."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from fiscal_core.crypto.envelope import EncryptionContext, EnvelopeCipher
from fiscal_core.errors import EncryptionError
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.errors import RecordExists, RecordNotFound

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def cipher(tables) -> EnvelopeCipher:
    kms = boto3.client("kms", region_name="sa-east-1")
    return EnvelopeCipher(kms, kms.create_key()["KeyMetadata"]["KeyId"])


def cert(certificate_id: str, not_after_days: int, **extra) -> CertificateRecord:
    base = CertificateRecord(
        account_id="acc1", certificate_id=certificate_id, company_id="co1", kind="A1",
        subject="CN=ACME LTDA:12345678000195", issuer="CN=AC Teste", serial_number="0A",
        cnpj="12345678000195", not_before=NOW, not_after=NOW + timedelta(days=not_after_days),
        fingerprint="ab" * 32, status="ACTIVE", created_by="u1", created_at=NOW,
    )  # fmt: skip
    return dataclasses.replace(base, **extra)


def test_sealed_pfx_round_trips_through_the_table(cipher):
    repo = CertificateRepository()
    pfx_ctx = EncryptionContext("acc1", "co1", "cert1")
    pwd_ctx = EncryptionContext("acc1", "co1", "cert1", purpose="certificate-password")
    repo.add(cert("cert1", 365, pfx=cipher.encrypt(b"PFX-BYTES", pfx_ctx),
                  password=cipher.encrypt(b"s3nh@", pwd_ctx)))  # fmt: skip
    stored = repo.get("acc1", "cert1")
    assert stored.pfx is not None and stored.password is not None
    assert cipher.decrypt(stored.pfx, pfx_ctx) == b"PFX-BYTES"
    assert cipher.decrypt(stored.password, pwd_ctx) == b"s3nh@"
    with pytest.raises(EncryptionError):
        cipher.decrypt(stored.password, pfx_ctx)  # the password envelope is not the PFX's


def test_company_certificates_latest_expiry_first_and_revocation(cipher):
    repo = CertificateRepository()
    repo.add(cert("old", 30))
    repo.add(cert("new", 365, pfx=cipher.encrypt(b"x", EncryptionContext("acc1", "co1", "new"))))
    repo.add(cert("a3", 200, kind="A3", agent_id="ag1", token_label="SafeNet"))
    with pytest.raises(RecordExists):
        repo.add(cert("old", 30))
    assert [c.certificate_id for c in repo.for_company("acc1", "co1")] == ["new", "a3", "old"]
    repo.revoke("acc1", "new", NOW + timedelta(days=1))
    revoked = repo.get("acc1", "new")
    assert (revoked.status, revoked.pfx, revoked.revoked_at) == ("REVOKED", None, NOW + timedelta(days=1))
    with pytest.raises(RecordNotFound):
        repo.revoke("acc1", "missing", NOW)
