"""A company's ICP-Brasil A1 certificate, loaded from its PFX (PKCS#12) file into memory.

The private key never touches disk here: callers keep the returned record in memory and hand its
:meth:`A1Certificate.signer` to :mod:`fiscal_core.signing`. The CNPJ comes from the subjectAltName
otherName 2.16.76.1.3.3, which ICP-Brasil mandates as a PrintableString; some CAs and test tools
write UTF8String or OCTET STRING, so any of the three is read. Certificates without it fall back to
the ``RAZAO SOCIAL:CNPJ`` form of the CN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ObjectIdentifier

from fiscal_core.errors import FiscalMixError, InvalidValue
from fiscal_core.identifiers import normalize_cnpj
from fiscal_core.signing import KeySigner

CNPJ_OID: Final = ObjectIdentifier("2.16.76.1.3.3")

# DER tags of the string types seen in ICP-Brasil otherName values, with how to decode them.
_STRING_ENCODINGS: Final[dict[int, str]] = {
    0x13: "ascii",  # PrintableString, what DOC-ICP-04 prescribes
    0x16: "ascii",  # IA5String
    0x0C: "utf-8",  # UTF8String
    0x04: "latin-1",  # OCTET STRING
}
_KEY_USAGE_FLAGS: Final = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


class CertificateError(FiscalMixError):
    """A certificate cannot be used: unreadable file, wrong password, missing key."""


class WrongCertificatePassword(CertificateError):
    """The PFX is a PKCS#12 file but the password does not open it (or the file is damaged)."""


class InvalidCertificateFile(CertificateError):
    """The file is not a usable A1 certificate: not PKCS#12, no key, no certificate, not RSA."""


@dataclass(frozen=True)
class A1Certificate:
    """An A1 certificate in memory: the RSA key, the leaf, its chain and what FiscalMix reads from it.

    ``key_usages`` holds cryptography's KeyUsage flag names (``digital_signature``,
    ``content_commitment`` for nonRepudiation...); ``extended_key_usages`` holds dotted OIDs.
    """

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    cnpj: str | None
    holder_name: str | None
    key_usages: frozenset[str]
    extended_key_usages: frozenset[str]

    def signer(self) -> KeySigner:
        """A Signer for :func:`fiscal_core.signing.sign_element` backed by this in-memory key."""
        return KeySigner(private_key=self.private_key, certificate=self.certificate)

    def is_valid_at(self, when: datetime) -> bool:
        """True when ``when`` (timezone-aware) lies within the certificate's validity period."""
        return self.not_before <= when <= self.not_after


def load_pfx(data: bytes, password: str | bytes, *, source: str = "certificate file") -> A1Certificate:
    """Open a PFX with its password and return the certificate record.

    ``source`` names the file in error messages (for example "A1 certificate of ACME LTDA").
    Raises WrongCertificatePassword or InvalidCertificateFile with what to do next.
    """
    secret = password.encode() if isinstance(password, str) else password
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, secret)
    except ValueError as exc:
        # cryptography reports a wrong password and corrupt data alike; the outer structure tells
        # a PKCS#12 file (probably a wrong password) from something else entirely.
        if _looks_like_pkcs12(data):
            raise WrongCertificatePassword(
                f"{source}: the password does not open this PFX; check the password with the "
                "company (or upload the file again if it may be damaged)"
            ) from exc
        raise InvalidCertificateFile(
            f"{source}: not a PFX/PKCS#12 file; export the A1 certificate as .pfx or .p12"
        ) from exc
    if key is None:
        raise InvalidCertificateFile(
            f"{source}: the PFX holds no private key; export it again including the private key"
        )
    if certificate is None:
        raise InvalidCertificateFile(f"{source}: the PFX holds no certificate for its key")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidCertificateFile(
            f"{source}: the key is {type(key).__name__}; ICP-Brasil A1 keys and SEFAZ signatures are RSA"
        )
    if key.public_key() != certificate.public_key():
        raise InvalidCertificateFile(f"{source}: the private key does not match the certificate")
    return describe(key, certificate, tuple(extra))


def cnpj_of(certificate: x509.Certificate) -> str | None:
    """The CNPJ a certificate names: otherName 2.16.76.1.3.3 first, else the CN's ``NAME:CNPJ``.

    Works on any certificate, such as the one in a signature's KeyInfo; None for an e-CPF.
    """
    return _san_cnpj(certificate) or _split_common_name(certificate)[1]


def describe(
    private_key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    chain: tuple[x509.Certificate, ...] = (),
) -> A1Certificate:
    """Build the record from a key and certificate already in memory (a PFX loaded elsewhere)."""
    holder_name = _split_common_name(certificate)[0]
    return A1Certificate(
        private_key=private_key,
        certificate=certificate,
        chain=chain,
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        cnpj=cnpj_of(certificate),
        holder_name=holder_name,
        key_usages=_key_usages(certificate),
        extended_key_usages=_extended_key_usages(certificate),
    )


def _looks_like_pkcs12(data: bytes) -> bool:
    """True when ``data`` opens like a PFX: a DER SEQUENCE whose first field is INTEGER 3."""
    if len(data) < 4 or data[0] != 0x30:
        return False
    parsed = _der_length(data, 1)
    return parsed is not None and data[parsed[1] : parsed[1] + 3] == b"\x02\x01\x03"


def _der_length(data: bytes, offset: int) -> tuple[int, int] | None:
    """The DER length at ``offset`` and where the content starts, or None if truncated."""
    if offset >= len(data):
        return None
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    size = first & 0x7F
    if size == 0 or offset + 1 + size > len(data):
        return None
    return int.from_bytes(data[offset + 1 : offset + 1 + size], "big"), offset + 1 + size


def _der_text(value: bytes) -> str | None:
    """Decode a DER string value (PrintableString, IA5String, UTF8String or OCTET STRING)."""
    encoding = _STRING_ENCODINGS.get(value[0]) if value else None
    parsed = _der_length(value, 1) if encoding else None
    if encoding is None or parsed is None:
        return None
    length, start = parsed
    body = value[start : start + length]
    if len(body) != length:
        return None
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        return None


def _valid_cnpj(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return normalize_cnpj(text.strip())
    except InvalidValue:
        return None


def _san_cnpj(certificate: x509.Certificate) -> str | None:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id == CNPJ_OID:
            return _valid_cnpj(_der_text(name.value))
    return None


def _split_common_name(certificate: x509.Certificate) -> tuple[str | None, str | None]:
    """The holder's name and CNPJ from a CN shaped ``RAZAO SOCIAL:CNPJ`` (either may be None)."""
    attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None, None
    value = attributes[0].value
    common_name = value if isinstance(value, str) else value.decode("utf-8", "replace")
    name, separator, tail = common_name.rpartition(":")
    if not separator:
        return common_name, None
    return name, _valid_cnpj(tail)


def _key_usages(certificate: x509.Certificate) -> frozenset[str]:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return frozenset()
    flags = {flag for flag in _KEY_USAGE_FLAGS if getattr(usage, flag)}
    # cryptography raises on encipher_only/decipher_only unless key_agreement is set.
    if usage.key_agreement:
        flags |= {flag for flag in ("encipher_only", "decipher_only") if getattr(usage, flag)}
    return frozenset(flags)


def _extended_key_usages(certificate: x509.Certificate) -> frozenset[str]:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(oid.dotted_string for oid in usage)
