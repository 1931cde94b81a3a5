"""The company's A1 certificate: sealed as the API stores it, opened in memory, cached briefly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from fiscal_core.certificates import cnpj_of, load_pfx
from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.sefaz.tls import TlsSettings
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.sync.credentials import CredentialsProvider, seal_a1
from fiscal_core.sync.errors import CredentialProblem
from local.fixtures.certificates import Variant, company_certificate, default_ca
from tests.unit.sync.fakes import FakeClock
from tests.unit.sync.harness import ACCOUNT, COMPANY, COMPANY_ID, REGION, START

PASSWORD = "s3nh@-do-pfx"


class CountingCipher(EnvelopeCipher):
    """The real cipher, counting decryptions (each is a KMS call)."""

    decrypted = 0

    def decrypt(self, envelope: Any, context: Any) -> bytes:
        type(self).decrypted += 1
        return super().decrypt(envelope, context)


@pytest.fixture
def cipher(clean: Any) -> CountingCipher:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    CountingCipher.decrypted = 0
    return CountingCipher(kms, key)


def _company(certificate_id: str | None = None) -> CompanyRecord:
    return CompanyRecord(
        account_id=ACCOUNT, company_id=COMPANY_ID, cnpj=COMPANY.cnpj, legal_name=COMPANY.name, uf="SP",
        created_at=START, updated_at=START, certificate_id=certificate_id,
    )  # fmt: skip


def _store(
    cipher: EnvelopeCipher, certificate_id: str, *, variant: Variant = Variant.VALID, password: str = PASSWORD
) -> None:
    issued = default_ca().issue_ecnpj(COMPANY.cnpj, COMPANY.name, variant=variant)
    pfx = issued.to_pfx(PASSWORD)
    a1 = load_pfx(pfx, PASSWORD)
    record = CertificateRecord(
        account_id=ACCOUNT, certificate_id=certificate_id, company_id=COMPANY_ID, kind="A1",
        subject=a1.subject, issuer=a1.issuer, serial_number=str(a1.certificate.serial_number),
        cnpj=a1.cnpj or "",
        not_before=a1.not_before, not_after=a1.not_after, fingerprint=a1.fingerprint_sha256, status="ACTIVE",
        created_by="u1", created_at=START,
    )  # fmt: skip
    CertificateRepository().add(seal_a1(cipher, record, pfx, password))


def _provider(cipher: EnvelopeCipher, clock: FakeClock) -> CredentialsProvider:
    tls = TlsSettings(ca_pem=default_ca().trust_pem().decode())
    return CredentialsProvider(CertificateRepository(), cipher, tls, clock=clock)


def test_the_sealed_certificate_opens_in_memory_and_is_cached(cipher: CountingCipher) -> None:
    _store(cipher, "cert-1")
    clock = FakeClock(
        load_pfx(company_certificate(COMPANY.cnpj, COMPANY.name).to_pfx("x"), "x").not_before
        + timedelta(days=1)
    )
    provider = _provider(cipher, clock)

    first = provider.for_company(_company())
    second = provider.for_company(_company())

    assert first is second
    assert cnpj_of(first.signer.certificate) == COMPANY.cnpj
    assert CountingCipher.decrypted == 2  # the PFX and its password, once
    stored = CertificateRepository().get(ACCOUNT, "cert-1")
    assert stored.pfx is not None and PASSWORD.encode() not in stored.pfx.ciphertext


def test_problems_say_what_the_user_must_do(cipher: CountingCipher) -> None:
    clock = FakeClock(START)
    provider = _provider(cipher, clock)
    with pytest.raises(
        CredentialProblem, match=r"has no active certificate.*Upload.*A1.*or pair a FiscalMix agent"
    ):
        provider.for_company(_company())

    _store(cipher, "expired", variant=Variant.EXPIRED)
    clock.now = load_pfx(
        default_ca().issue_ecnpj(COMPANY.cnpj, COMPANY.name, variant=Variant.EXPIRED).to_pfx("x"), "x"
    ).not_after + timedelta(days=1)
    with pytest.raises(CredentialProblem, match="expired on"):
        provider.for_company(_company("expired"))

    _store(cipher, "other", variant=Variant.OTHER_CNPJ)
    with pytest.raises(CredentialProblem, match="belongs to CNPJ"):
        provider.for_company(_company("other"))


def test_a_wrong_stored_password_is_a_certificate_problem(cipher: CountingCipher) -> None:
    _store(cipher, "bad", password="not the password")
    issued = company_certificate(COMPANY.cnpj, COMPANY.name)
    clock = FakeClock(issued.certificate.not_valid_before_utc + timedelta(days=1))
    with pytest.raises(CredentialProblem, match="password does not open"):
        _provider(cipher, clock).for_company(_company("bad"))
