"""Whether an uploaded A1 may be used for a company, with reasons a user can act on.

``load_pfx`` already refuses files that are not PKCS#12, wrong passwords, files without a key,
non-RSA keys and keys that do not match the certificate. This adds what depends on the company
and the moment: validity window, key usage, the chain in the file, and the CNPJ base.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from fiscal_core.api.problems import CertificateRejected
from fiscal_core.certificates import A1Certificate
from fiscal_core.identifiers import cnpj_base, format_cnpj
from fiscal_core.storage.companies import CompanyRecord

MAX_PFX_BYTES: Final = 64 * 1024


def decode_pfx(text: str) -> bytes:
    """The PFX bytes of the upload's base64 text; CertificateRejected if not base64 or too large."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CertificateRejected(
            "The pfx field is not base64; send the .pfx file's bytes base64-encoded."
        ) from exc
    if len(data) > MAX_PFX_BYTES:
        raise CertificateRejected(
            f"The file has {len(data) // 1024} KB; an A1 certificate file is a few KB and at most "
            f"{MAX_PFX_BYTES // 1024} KB. Check that you chose the .pfx or .p12 file."
        )
    return data


def check_certificate(cert: A1Certificate, company: CompanyRecord, now: datetime) -> None:
    """CertificateRejected, saying why and what to do, unless ``cert`` can serve ``company``."""
    if cert.not_before > now:
        raise CertificateRejected(
            f"The certificate is valid only from {cert.not_before:%Y-%m-%d %H:%M} UTC; "
            "upload it from that moment, and keep the current one until then."
        )
    if cert.not_after <= now:
        raise CertificateRejected(
            f"The certificate expired on {cert.not_after:%Y-%m-%d}; renew the A1 with your "
            "certificate authority and upload the new file."
        )
    if "digital_signature" not in cert.key_usages:
        raise CertificateRejected(
            "The certificate's key usage does not allow digital signatures, which SEFAZ requires; "
            "upload the company's e-CNPJ A1 signing certificate."
        )
    _check_chain(cert)
    _check_cnpj(cert, company)


def _check_chain(cert: A1Certificate) -> None:
    """Each certificate the file carries must sign the one below it, up to where the chain ends."""
    leaf = cert.certificate
    chain = [c for c in cert.chain if c != leaf]
    if leaf.issuer == leaf.subject:
        raise CertificateRejected(
            "The certificate is self-signed; an ICP-Brasil A1 is issued by a certificate authority. "
            "Upload the file your certificate authority issued."
        )
    current = leaf
    while chain:
        issuer = next((c for c in chain if c.subject == current.issuer), None)
        if issuer is None:
            if current is leaf:
                raise CertificateRejected(
                    "The file carries CA certificates, but none of them issued this certificate; "
                    "export the certificate again with its own chain."
                )
            return
        _verify_signature(current, issuer)
        chain.remove(issuer)
        if issuer.subject == issuer.issuer:
            return
        current = issuer


def _verify_signature(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateRejected(
            f"The chain in the file does not verify: {issuer.subject.rfc4514_string()} did not sign "
            f"{certificate.subject.rfc4514_string()}. The file may be damaged or assembled by hand; "
            "export it again from the original."
        ) from exc


def _check_cnpj(cert: A1Certificate, company: CompanyRecord) -> None:
    if cert.cnpj is None:
        raise CertificateRejected(
            "The certificate names no CNPJ (neither in its subjectAltName nor in its CN); "
            "an e-CPF or another kind of certificate cannot collect this company's documents."
        )
    if cnpj_base(cert.cnpj) != cnpj_base(company.cnpj):
        raise CertificateRejected(
            f"The certificate belongs to CNPJ {format_cnpj(cert.cnpj)}, whose root is not the root of "
            f"this company's CNPJ {format_cnpj(company.cnpj)}; upload this company's certificate "
            "(or one of its establishments')."
        )
