"""RSASSA-PKCS1-v1_5 signatures on the token, whatever subset of the mechanisms it offers.

Preference, per signature: the token hashes and signs (CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS...);
else the agent hashes, wraps the hash in a DigestInfo and the token pads and signs it
(CKM_RSA_PKCS, which nearly every token offers); else the agent also pads and the token does raw
RSA (CKM_RSA_X_509). The three produce the same signature. A mechanism the token lists but then
refuses is dropped and the next one used.

Every signature is checked against the certificate's public key before it leaves: a token whose
key does not match its certificate would otherwise surface far away, as SEFAZ's cStat 297 or a
TLS alert.
"""

from __future__ import annotations

import logging
from typing import Final, NoReturn

import pkcs11
import pkcs11.exceptions as ckr
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pkcs11 import Attribute, Mechanism, ObjectClass

from fiscalmix_agent.digestinfo import HashName, digest, digest_info, emsa_pkcs1_v15, hash_of_digest_info
from fiscalmix_agent.errors import CertificateNotFound, SigningFailed
from fiscalmix_agent.token import TokenCertificate, TokenSession

logger = logging.getLogger(__name__)

HASH_AND_SIGN: Final[dict[HashName, Mechanism]] = {
    "sha1": Mechanism.SHA1_RSA_PKCS,
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
_HASHES: Final[dict[HashName, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# Signing a DigestInfo: the token pads (CKM_RSA_PKCS), else raw RSA over a block padded here.
_DIGEST_INFO_MECHANISMS: Final = (Mechanism.RSA_PKCS, Mechanism.RSA_X_509)
# What a token answers for a mechanism it listed but will not use with this key.
_REFUSED: Final = (ckr.MechanismInvalid, ckr.MechanismParamInvalid, ckr.FunctionNotSupported)


class TokenSigner:
    """Signs with the private key of one certificate on the token.

    Has the shape of ``fiscal_core.signing.Signer`` (``certificate`` and ``sign_pkcs1v15_sha1``),
    and signs the DigestInfo of a TLS 1.2 CertificateVerify through :meth:`sign_digest_info`.
    """

    def __init__(self, session: TokenSession, certificate: TokenCertificate) -> None:
        if certificate.key_id is None:
            raise CertificateNotFound(f"the token holds no private key for {certificate.info.subject}")
        self._session = session
        self._certificate = certificate
        self._public_key = certificate.public_key
        self._modulus_bytes = (self._public_key.key_size + 7) // 8

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate whose key signs."""
        return self._certificate.certificate

    def mechanism_for(self, hash_name: HashName | None) -> Mechanism:
        """The mechanism the next signature uses: of ``hash_name`` data, or of a DigestInfo for None."""
        offered = self._session.mechanisms()
        if hash_name is not None and HASH_AND_SIGN[hash_name] in offered:
            return HASH_AND_SIGN[hash_name]
        return next((m for m in _DIGEST_INFO_MECHANISMS if m in offered), None) or self._no_mechanism()

    def sign_pkcs1v15_sha1(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-1 of ``data``: the XMLDSig rsa-sha1 SEFAZ requires."""
        return self.sign_pkcs1v15(data, "sha1")

    def sign_pkcs1v15(self, data: bytes, hash_name: HashName) -> bytes:
        """RSASSA-PKCS1-v1_5 of ``data`` hashed with ``hash_name``."""
        mechanism = HASH_AND_SIGN[hash_name]
        if mechanism in self._session.mechanisms():
            signature = self._sign(mechanism, data)
            if signature is not None:
                return self._checked(signature, data, hash_name)
        return self.sign_digest_info(digest_info(hash_name, digest(hash_name, data)))

    def sign_digest_info(self, encoded: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 of a DigestInfo built elsewhere (a TLS 1.2 CertificateVerify)."""
        if hash_of_digest_info(encoded) is None:
            raise SigningFailed("refusing to sign: the data is not a DigestInfo of SHA-1 or SHA-2")
        for mechanism in _DIGEST_INFO_MECHANISMS:
            if mechanism not in self._session.mechanisms():
                continue
            block = (
                encoded if mechanism == Mechanism.RSA_PKCS else emsa_pkcs1_v15(encoded, self._modulus_bytes)
            )
            signature = self._sign(mechanism, block)
            if signature is not None:
                return self._checked(signature, encoded, None)
        return self._no_mechanism()

    def _no_mechanism(self) -> NoReturn:
        raise SigningFailed(
            f"The token {self._session.description.label} offers no RSA PKCS#1 signing mechanism "
            "(CKM_RSA_PKCS, CKM_RSA_X_509); it cannot sign for SEFAZ."
        )

    def _checked(self, signature: bytes, signed: bytes, hash_name: HashName | None) -> bytes:
        """``signature``, once the certificate's key verifies it over ``signed`` (a DigestInfo if None)."""
        try:
            if hash_name is None:
                if self._public_key.recover_data_from_signature(signature, PKCS1v15(), None) != signed:
                    raise InvalidSignature
            else:
                self._public_key.verify(signature, signed, PKCS1v15(), _HASHES[hash_name]())
        except (InvalidSignature, ValueError) as exc:
            raise SigningFailed(
                f"The token {self._session.description.label} produced a signature that the "
                f"certificate {self._certificate.info.subject} does not verify: its key and certificate "
                "do not match. Check the token's contents in its manager."
            ) from exc
        return signature

    def _sign(self, mechanism: Mechanism, data: bytes) -> bytes | None:
        """Sign on the token; None (and the mechanism forgotten) when the token refuses the mechanism."""

        def operation(session: pkcs11.Session) -> bytes | None:
            key = self._private_key(session)
            try:
                return bytes(key.sign(data, mechanism=mechanism))
            except _REFUSED:
                return None

        signature = self._session.run(operation)
        if signature is None:
            logger.warning("the token refused %s; falling back to the next mechanism", mechanism.name)
            self._session.forget_mechanism(mechanism)
        else:
            logger.debug("signed %d bytes with %s", len(data), mechanism.name)
        return signature

    def _private_key(self, session: pkcs11.Session) -> pkcs11.SignMixin:
        key_id = self._certificate.key_id
        if key_id:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            assert isinstance(key, pkcs11.SignMixin)
            return key
        modulus = self._public_key.public_numbers().n
        for candidate in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
            if (
                isinstance(candidate, pkcs11.SignMixin)
                and int.from_bytes(candidate[Attribute.MODULUS], "big") == modulus
            ):
                return candidate
        raise CertificateNotFound(
            f"the private key of {self._certificate.info.subject} is no longer on the token"
        )
