"""What the agent tells about a certificate on the token: subject, CNPJ, validity, fingerprint.

The CNPJ comes from the ICP-Brasil otherName 2.16.76.1.3.3 of the subjectAltName (a DER
PrintableString, though some CAs use UTF8String or OCTET STRING), else from a CN shaped
``RAZAO SOCIAL:CNPJ``. The agent only reports it; the cloud validates check digits and binds it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

CNPJ_OID: Final = x509.ObjectIdentifier("2.16.76.1.3.3")
# DER tags of the string types ICP-Brasil certificates are seen to use, and how to decode each.
_STRING_TAGS: Final = {0x13: "ascii", 0x16: "ascii", 0x0C: "utf-8", 0x04: "latin-1"}
# Numeric CNPJ and the alphanumeric one of 2026 on: 12 letters or digits, then 2 check digits.
_CNPJ_SHAPE: Final = re.compile(r"[0-9A-Z]{12}[0-9]{2}")


@dataclass(frozen=True)
class CertificateInfo:
    """A certificate as reported to the cloud and shown by ``fiscalmix-agent certificates``."""

    fingerprint_sha256: str
    subject: str
    issuer: str
    holder_name: str | None
    cnpj: str | None
    serial_number: str
    not_before: datetime
    not_after: datetime
    der: bytes = b""  # the certificate itself: the cloud puts it in the KeyInfo of what the token signs

    @classmethod
    def of(cls, certificate: x509.Certificate) -> CertificateInfo:
        """Describe ``certificate``."""
        holder_name, cn_cnpj = _split_common_name(certificate)
        return cls(
            fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            holder_name=holder_name,
            cnpj=_san_cnpj(certificate) or cn_cnpj,
            serial_number=f"{certificate.serial_number:x}",
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            der=certificate.public_bytes(Encoding.DER),
        )

    def to_json(self) -> dict[str, str | None]:
        """The ``certificates`` entry of ``hello`` (PROTOCOL.md)."""
        return {
            "fingerprint_sha256": self.fingerprint_sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "holder_name": self.holder_name,
            "cnpj": self.cnpj,
            "serial_number": self.serial_number,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "certificate": base64.b64encode(self.der).decode("ascii"),
        }


def _cnpj(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = re.sub(r"[./\-\s]", "", text).upper()
    return cleaned if _CNPJ_SHAPE.fullmatch(cleaned) else None


def _der_string(value: bytes) -> str | None:
    """The text of a short DER string (the otherName value); None for anything else."""
    if len(value) < 2 or value[0] not in _STRING_TAGS or value[1] >= 0x80:
        return None  # a CNPJ is 14 characters: short-form lengths only
    body = value[2 : 2 + value[1]]
    if len(body) != value[1]:
        return None
    try:
        return body.decode(_STRING_TAGS[value[0]])
    except UnicodeDecodeError:
        return None


def _san_cnpj(certificate: x509.Certificate) -> str | None:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id == CNPJ_OID:
            return _cnpj(_der_string(name.value))
    return None


def _split_common_name(certificate: x509.Certificate) -> tuple[str | None, str | None]:
    """The holder's name and CNPJ from a CN shaped ``RAZAO SOCIAL:CNPJ``."""
    attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None, None
    value = attributes[0].value
    common_name = value if isinstance(value, str) else value.decode("utf-8", "replace")
    name, separator, tail = common_name.rpartition(":")
    if not separator:
        return common_name, None
    return name, _cnpj(tail)
