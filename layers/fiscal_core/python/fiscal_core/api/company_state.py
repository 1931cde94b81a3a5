"""What a company's row shows besides its fields: certificate state and sync health."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from fiscal_core.api.models.companies import CertificateState, CompanyOut, SyncHealth
from fiscal_core.api.services import Services
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.records import Family

EXPIRING_WITHIN: Final = timedelta(days=30)


def days_to_expiry(not_after: datetime, now: datetime) -> int:
    """Whole days left until ``not_after``; negative once it passed."""
    return (not_after - now) // timedelta(days=1)


def certificate_state(services: Services, company: CompanyRecord, now: datetime) -> CertificateState | None:
    """The state of the certificate the company uses, or None when it has none."""
    if company.certificate_id is None:
        return None
    try:
        cert = services.certificates.get(company.account_id, company.certificate_id)
    except RecordNotFound:
        return None
    if cert.not_after <= now:
        state = "EXPIRED"
    elif cert.not_after - now <= EXPIRING_WITHIN:
        state = "EXPIRING"
    else:
        state = "VALID"
    return CertificateState(
        certificate_id=cert.certificate_id,
        not_after=cert.not_after,
        days_to_expiry=days_to_expiry(cert.not_after, now),
        state=state,  # type: ignore[arg-type]
    )


def sync_health(services: Services, company: CompanyRecord) -> list[SyncHealth]:
    """One summary per family whose cursor exists (the sync creates them on its first run)."""
    health = []
    for family in Family:
        try:
            cursor = services.cursors.get(company.account_id, company.company_id, family)
        except RecordNotFound:
            continue
        health.append(
            SyncHealth(
                family=family,
                last_success_at=cursor.last_success_at,
                next_allowed_at=cursor.next_allowed_at,
                block_reason=cursor.block_reason,
                block_detail=cursor.block_detail,
                last_error=cursor.last_error,
            )
        )
    return health


def company_out(services: Services, company: CompanyRecord, now: datetime) -> CompanyOut:
    """The API's view of a company, with its certificate state and sync health."""
    return CompanyOut(
        company_id=company.company_id,
        cnpj=company.cnpj,
        legal_name=company.legal_name,
        trade_name=company.trade_name,
        uf=company.uf,
        municipio=company.municipio,
        ie=company.ie,
        tags=list(company.tags),
        active=company.active,
        auto_ciencia=company.auto_ciencia,
        created_at=company.created_at,
        updated_at=company.updated_at,
        certificate=certificate_state(services, company, now),
        sync=sync_health(services, company),
    )
