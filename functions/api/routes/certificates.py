"""``/companies/{company_id}/certificates``: upload an A1, list, revoke (the company's admins)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.certificates import A1Upload, CertificateList, CertificateOut
from fiscal_core.api.openapi import responses
from functions.api.router import resource_router

router = resource_router()
CompanyId = Annotated[str, Path(min_length=1, max_length=64)]
CertificateId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/companies/<company_id>/certificates/a1",
    tags=["certificates"],
    status_code=201,
    responses=responses(403, 404, 409, success=201, description="Stored"),
)
def upload_a1(ctx: Ctx, company_id: CompanyId, body: A1Upload) -> CertificateOut:
    """Upload the company's A1 (base64 PFX and password): checked, then stored encrypted."""
    from fiscal_core.api import certificates

    return certificates.upload_a1(ctx, company_id, body)


@router.get("/companies/<company_id>/certificates", tags=["certificates"], responses=responses(403, 404))
def list_certificates(ctx: Ctx, company_id: CompanyId) -> CertificateList:
    """The company's certificates, active and revoked; never their keys or passwords."""
    from fiscal_core.api import certificates

    return certificates.list_certificates(ctx, company_id)


@router.delete(
    "/companies/<company_id>/certificates/<certificate_id>",
    tags=["certificates"],
    responses=responses(403, 404, success=204, description="Revoked"),
)
def revoke_certificate(ctx: Ctx, company_id: CompanyId, certificate_id: CertificateId) -> Response[None]:
    """Revoke a certificate: its encrypted file and password are deleted; the sync stops using it."""
    from fiscal_core.api import certificates

    certificates.revoke(ctx, company_id, certificate_id)
    return Response(status_code=204)
