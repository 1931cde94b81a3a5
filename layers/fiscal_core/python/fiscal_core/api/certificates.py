"""A1 certificates of a company: upload (checked, then sealed), list, revoke.

The PFX and its password are sealed separately with :class:`EnvelopeCipher`, each bound to the
account, company, certificate and its purpose; only the envelopes are stored. Neither is ever
returned, logged or written in clear, and the audit entry records only public facts.
"""

from __future__ import annotations

from fiscal_core.api.certificate_checks import check_certificate, decode_pfx
from fiscal_core.api.company_state import days_to_expiry
from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.certificates import A1Upload, CertificateList, CertificateOut
from fiscal_core.api.problems import Conflict, NotFound
from fiscal_core.api.roles import check_id, company_for
from fiscal_core.certificates import load_pfx
from fiscal_core.crypto.envelope import EncryptionContext
from fiscal_core.storage.certificates import CertificateRecord
from fiscal_core.storage.companies import CompanyRecord, CompanyRole
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.ids import new_sortable_id


def upload_a1(ctx: RequestContext, company_id: str, upload: A1Upload) -> CertificateOut:
    """Check an A1 against the company, seal and store it, and use it if it lasts longest."""
    company = company_for(ctx, company_id, CompanyRole.ADMIN, "manage its certificates")
    data = decode_pfx(upload.pfx.get_secret_value())
    password = upload.password.get_secret_value()
    cert = load_pfx(data, password, source="The certificate file")
    check_certificate(cert, company, ctx.now)
    existing = ctx.services.certificates.for_company(ctx.account_id, company_id)
    if any(c.fingerprint == cert.fingerprint_sha256 and c.status == "ACTIVE" for c in existing):
        raise Conflict("This certificate is already uploaded for this company.")
    certificate_id = new_sortable_id(ctx.now)

    def context(purpose: str) -> EncryptionContext:
        return EncryptionContext(ctx.account_id, company_id, certificate_id, purpose)

    cipher = ctx.services.cipher
    record = CertificateRecord(
        account_id=ctx.account_id,
        certificate_id=certificate_id,
        company_id=company_id,
        kind="A1",
        subject=cert.subject,
        issuer=cert.issuer,
        serial_number=format(cert.certificate.serial_number, "x"),
        cnpj=cert.cnpj or "",
        not_before=cert.not_before,
        not_after=cert.not_after,
        fingerprint=cert.fingerprint_sha256,
        status="ACTIVE",
        created_by=ctx.user.user_id,
        created_at=ctx.now,
        pfx=cipher.encrypt(data, context("certificate-pfx")),
        password=cipher.encrypt(password.encode(), context("certificate-password")),
    )
    ctx.services.certificates.add(record)
    in_use = _choose_in_use(ctx, company, [record, *existing])
    details = {
        "fingerprint": record.fingerprint,
        "cnpj": record.cnpj,
        "not_after": record.not_after.isoformat(),
    }
    ctx.audit("certificate.upload", "certificate", certificate_id, details, company_id=company_id)
    return certificate_out(record, in_use, ctx)


def list_certificates(ctx: RequestContext, company_id: str) -> CertificateList:
    """The company's certificates (active and revoked), the one expiring last first."""
    company = company_for(ctx, company_id, CompanyRole.VIEWER, "see its certificates")
    records = ctx.services.certificates.for_company(ctx.account_id, company_id)
    return CertificateList(items=[certificate_out(r, company.certificate_id, ctx) for r in records])


def revoke(ctx: RequestContext, company_id: str, certificate_id: str) -> None:
    """Revoke a certificate: its sealed material is deleted and the sync stops using it; audited."""
    company = company_for(ctx, company_id, CompanyRole.ADMIN, "manage its certificates")
    check_id(certificate_id, "certificate")
    try:
        record = ctx.services.certificates.get(ctx.account_id, certificate_id)
    except RecordNotFound as exc:
        raise NotFound("certificate") from exc
    if record.company_id != company_id:
        raise NotFound("certificate")
    if record.status == "REVOKED":
        return  # revoking twice changes nothing
    ctx.services.certificates.revoke(ctx.account_id, certificate_id, ctx.now)
    remaining = ctx.services.certificates.for_company(ctx.account_id, company_id)
    _choose_in_use(ctx, company, remaining)
    details = {"fingerprint": record.fingerprint}
    ctx.audit("certificate.revoke", "certificate", certificate_id, details, company_id=company_id)


def _choose_in_use(
    ctx: RequestContext, company: CompanyRecord, records: list[CertificateRecord]
) -> str | None:
    """Point the company at its valid active certificate that expires last (or at none)."""
    usable = [r for r in records if r.status == "ACTIVE" and r.not_before <= ctx.now < r.not_after]
    chosen = max(usable, key=lambda r: r.not_after).certificate_id if usable else None
    if chosen != company.certificate_id:
        ctx.services.companies.update(ctx.account_id, company.company_id, ctx.now, {"certificate_id": chosen})
    return chosen


def certificate_out(record: CertificateRecord, in_use_id: str | None, ctx: RequestContext) -> CertificateOut:
    """The public facts of a certificate."""
    return CertificateOut(
        certificate_id=record.certificate_id,
        company_id=record.company_id,
        kind=record.kind,
        subject=record.subject,
        issuer=record.issuer,
        serial_number=record.serial_number,
        cnpj=record.cnpj,
        not_before=record.not_before,
        not_after=record.not_after,
        days_to_expiry=days_to_expiry(record.not_after, ctx.now),
        fingerprint_sha256=record.fingerprint,
        status=record.status,
        in_use=record.certificate_id == in_use_id,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )
