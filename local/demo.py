"""Demo data for the local system and the end-to-end tests: a tenant, its certificate, its stream.

In a running local plane (tables bound, moto's KMS reachable) :func:`seed_demo_tenant` creates a
demo account, its owner, a company with a valid CNPJ and automatic Ciência on, the company's A1
certificate from the test CA sealed exactly as the API seals an upload
(:func:`fiscal_core.sync.credentials.seal_a1`), and the company's sync cursors, in the
scheduler's index. :func:`seed_demo_documents` gives the SEFAZ simulator a realistic stream of
documents for that CNPJ. Both are idempotent on the tenant: seeding twice keeps the first records.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from fiscal_core.api.companies import company_id_for
from fiscal_core.certificates import load_pfx
from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.storage.accounts import AccountRecord, AccountRepository, UserRecord
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.companies import CompanyRecord, CompanyRepository, CompanyRole, Permission
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.errors import RecordExists
from fiscal_core.storage.records import Family
from fiscal_core.sync.credentials import seal_a1
from fiscal_core.sync.policy import SYNCED_FAMILIES
from local.fixtures.certificates import default_ca
from local.fixtures.identities import cnpj_for
from local.sefaz import SeededCompany, SefazSimulator

# Ids in the API's own format (letters and digits); the company's derives from account and CNPJ.
DEMO_ACCOUNT_ID: Final = "demoaccount"
DEMO_USER_ID: Final = "demouser"
DEMO_CERTIFICATE_ID: Final = "demoa1"
DEMO_CNPJ: Final = cnpj_for("FiscalMix demo company")
DEMO_COMPANY_ID: Final = company_id_for(DEMO_ACCOUNT_ID, DEMO_CNPJ)
DEMO_COMPANY_NAME: Final = "DEMONSTRACAO FISCALMIX LTDA"
DEMO_EMAIL: Final = "demo@fiscalmix.local"


@dataclass(frozen=True)
class DemoTenant:
    """What was seeded: the ids every other demo step refers to."""

    account_id: str
    user_id: str
    company_id: str
    cnpj: str
    legal_name: str
    certificate_id: str


def seed_demo_tenant(
    cipher: EnvelopeCipher,
    *,
    clock: Callable[[], datetime] = utc_now,
    account_id: str = DEMO_ACCOUNT_ID,
    company_id: str = DEMO_COMPANY_ID,
    cnpj: str = DEMO_CNPJ,
    legal_name: str = DEMO_COMPANY_NAME,
    email: str = DEMO_EMAIL,
    cognito_sub: str | None = None,
    auto_ciencia: bool = True,
    families: Iterable[Family] = SYNCED_FAMILIES,
) -> DemoTenant:
    """Create the demo account, owner, company, sealed A1 certificate and sync cursors."""
    now = clock()
    tenant = DemoTenant(account_id, DEMO_USER_ID, company_id, cnpj, legal_name, DEMO_CERTIFICATE_ID)
    accounts, companies = AccountRepository(), CompanyRepository()
    # Each record is created once: a second seeding (a restart of `make run`) keeps the first.
    with suppress(RecordExists):
        accounts.create_account(
            AccountRecord(account_id, "Demonstração FiscalMix", "COMPANY", "ACTIVE", now, now, document=cnpj)
        )
    with suppress(RecordExists):
        accounts.create_user(
            UserRecord(
                account_id, tenant.user_id, email, "Demo", "OWNER", "ACTIVE", now, cognito_sub=cognito_sub
            )
        )
    with suppress(RecordExists):
        CertificateRepository().add(_sealed_certificate(cipher, tenant, now))
    with suppress(RecordExists):
        companies.create(
            CompanyRecord(
                account_id=account_id, company_id=company_id, cnpj=cnpj, legal_name=legal_name, uf="SP",
                created_at=now, updated_at=now, trade_name="FiscalMix Demo", auto_ciencia=auto_ciencia,
                certificate_id=tenant.certificate_id,
            )
        )  # fmt: skip
    companies.grant(
        Permission(account_id, company_id, tenant.user_id, CompanyRole.ADMIN, tenant.user_id, now)
    )
    cursors = SyncCursorRepository(clock=clock)
    for family in families:
        cursors.ensure(account_id, company_id, family, cnpj)
        cursors.set_scheduled(account_id, company_id, family, True)
    return tenant


def seed_demo_documents(
    simulator: SefazSimulator,
    tenant: DemoTenant,
    *,
    documents: int = 120,
    nfse_documents: int = 12,
    issued: int = 4,
    seed: int = 0,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SeededCompany:
    """A realistic stream for the tenant's CNPJ in the simulator (see ``SefazSimulator.seed``)."""
    return simulator.seed(
        tenant.cnpj,
        documents=documents,
        nfse_documents=nfse_documents,
        issued=issued,
        name=tenant.legal_name,
        seed=seed,
        since=since,
        until=until,
    )


def seed_demo(
    simulator: SefazSimulator, cipher: EnvelopeCipher, *, documents: int = 120, nfse_documents: int = 12
) -> tuple[DemoTenant, SeededCompany]:
    """The demo tenant and its stream, on the simulator's clock."""
    tenant = seed_demo_tenant(cipher, clock=simulator.clock.now)
    return tenant, seed_demo_documents(simulator, tenant, documents=documents, nfse_documents=nfse_documents)


def _sealed_certificate(cipher: EnvelopeCipher, tenant: DemoTenant, now: datetime) -> CertificateRecord:
    """The company's e-CNPJ A1 from the test CA, its PFX and password sealed as an upload is."""
    password = secrets.token_urlsafe(12)
    pfx = default_ca().issue_ecnpj(tenant.cnpj, tenant.legal_name).to_pfx(password)
    a1 = load_pfx(pfx, password, source=f"demo certificate of {tenant.legal_name}")
    record = CertificateRecord(
        account_id=tenant.account_id, certificate_id=tenant.certificate_id, company_id=tenant.company_id,
        kind="A1", subject=a1.subject, issuer=a1.issuer,
        serial_number=format(a1.certificate.serial_number, "x"),
        cnpj=a1.cnpj or tenant.cnpj, not_before=a1.not_before, not_after=a1.not_after,
        fingerprint=a1.fingerprint_sha256, status="ACTIVE", created_by=tenant.user_id, created_at=now,
    )  # fmt: skip
    return seal_a1(cipher, record, pfx, password)
