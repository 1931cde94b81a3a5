"""Bodies of the certificates resource: an A1 upload and a certificate as shown (never its key)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr

from fiscal_core.api.models.identity import Request
from fiscal_core.model import Model


class A1Upload(Request):
    """An A1 certificate file (PFX/PKCS#12) and its password, as JSON.

    Both are SecretStr so that no repr of the body (Powertools logs route arguments at DEBUG)
    can print them.
    """

    pfx: SecretStr = Field(
        min_length=1, description="The .pfx/.p12 file, base64-encoded (at most 64 KB decoded)."
    )
    password: SecretStr = Field(
        max_length=256, description="The file's password; stored encrypted, never shown."
    )


class CertificateOut(Model):
    """A certificate's public facts; the private key and password are never part of it."""

    certificate_id: str
    company_id: str
    kind: str = Field(description="A1 (file held encrypted here) or A3 (token behind an agent).")
    subject: str
    issuer: str
    serial_number: str
    cnpj: str
    not_before: datetime
    not_after: datetime
    days_to_expiry: int
    fingerprint_sha256: str
    status: str = Field(description="ACTIVE or REVOKED.")
    in_use: bool = Field(description="True for the certificate the company's sync uses.")
    created_at: datetime
    revoked_at: datetime | None = None


class CertificateList(Model):
    """A company's certificates, the one expiring last first."""

    items: list[CertificateOut]
