"""Certificates: their metadata, and for A1 the envelope-encrypted PFX and password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import UpdateError

from fiscal_core.crypto.envelope import Envelope
from fiscal_core.storage import crud
from fiscal_core.storage.errors import RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.models import Certificate, EnvelopeMap


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """An A1 (sealed here) or A3 (behind an agent) certificate of a company."""

    account_id: str
    certificate_id: str
    company_id: str
    kind: str  # A1 | A3
    subject: str
    issuer: str
    serial_number: str
    cnpj: str
    not_before: datetime
    not_after: datetime
    fingerprint: str
    status: str  # ACTIVE | REVOKED
    created_by: str
    created_at: datetime
    pfx: Envelope | None = None
    password: Envelope | None = None
    blob_s3_key: str | None = None
    agent_id: str | None = None
    token_label: str | None = None
    revoked_at: datetime | None = None


class CertificateRepository:
    """Store, read, list and revoke certificates within an account."""

    def add(self, cert: CertificateRecord) -> None:
        """Store a new certificate; RecordExists if its id is taken."""
        item = Certificate(
            cert.account_id,
            cert.certificate_id,
            company_id=cert.company_id,
            company_key=company_key(cert.account_id, cert.company_id),
            kind=cert.kind,
            subject=cert.subject,
            issuer=cert.issuer,
            serial_number=cert.serial_number,
            cnpj=cert.cnpj,
            not_before=cert.not_before,
            not_after=cert.not_after,
            fingerprint=cert.fingerprint,
            status=cert.status,
            pfx_envelope=_to_map(cert.pfx),
            password_envelope=_to_map(cert.password),
            blob_s3_key=cert.blob_s3_key,
            agent_id=cert.agent_id,
            token_label=cert.token_label,
            created_by=cert.created_by,
            created_at=cert.created_at,
            revoked_at=cert.revoked_at,
        )
        crud.create(item, f"certificate {cert.certificate_id}")

    def get(self, account_id: str, certificate_id: str) -> CertificateRecord:
        """A certificate of the account, or RecordNotFound."""
        return _record(crud.get(Certificate, account_id, certificate_id, f"certificate {certificate_id}"))

    def for_company(self, account_id: str, company_id: str) -> list[CertificateRecord]:
        """The company's certificates, the one expiring last first."""
        with storage_call("list a company's certificates"):
            items = Certificate.by_company.query(
                company_key(account_id, company_id), scan_index_forward=False
            )
            return [_record(i) for i in items]

    def revoke(self, account_id: str, certificate_id: str, at: datetime) -> None:
        """Mark a certificate revoked and drop its sealed material; RecordNotFound if absent."""
        item = Certificate(account_id, certificate_id)
        with storage_call("revoke a certificate"):
            try:
                item.update(
                    [
                        Certificate.status.set("REVOKED"),
                        Certificate.revoked_at.set(at),
                        Certificate.pfx_envelope.remove(),
                        Certificate.password_envelope.remove(),
                    ],
                    condition=Certificate.account_id.exists(),
                )
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                raise RecordNotFound(f"certificate {certificate_id} was not found") from exc


def _to_map(envelope: Envelope | None) -> EnvelopeMap | None:
    if envelope is None:
        return None
    return EnvelopeMap(
        version=envelope.version,
        wrapped_key=envelope.wrapped_key,
        nonce=envelope.nonce,
        ciphertext=envelope.ciphertext,
    )


def _from_map(value: EnvelopeMap | None) -> Envelope | None:
    if value is None:
        return None
    return Envelope(value.version, value.wrapped_key, value.nonce, value.ciphertext)


def _record(item: Certificate) -> CertificateRecord:
    return CertificateRecord(
        account_id=item.account_id,
        certificate_id=item.certificate_id,
        company_id=item.company_id,
        kind=item.kind,
        subject=item.subject,
        issuer=item.issuer,
        serial_number=item.serial_number,
        cnpj=item.cnpj,
        not_before=item.not_before,
        not_after=item.not_after,
        fingerprint=item.fingerprint,
        status=item.status,
        created_by=item.created_by,
        created_at=item.created_at,
        pfx=_from_map(item.pfx_envelope),
        password=_from_map(item.password_envelope),
        blob_s3_key=item.blob_s3_key,
        agent_id=item.agent_id,
        token_label=item.token_label,
        revoked_at=item.revoked_at,
    )
