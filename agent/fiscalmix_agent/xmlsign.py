"""``sign_xml``: the token signs the canonical SignedInfo of an XMLDSig signature the cloud built.

Why the agent signs SignedInfo rather than whole documents: the cloud already shapes SEFAZ's
signatures (enveloped, C14N 1.0, RSA-SHA1, default namespace, one X509Certificate) in
``fiscal_core.signing``, whose ``Signer`` sees exactly these bytes. Signing them here keeps that
logic in one place, keeps the agent free of lxml and signxml, and keeps the message small.

Why the agent looks at what it signs: the token's key is the company's legal signature. The agent
signs only a canonical XMLDSig SignedInfo with one same-document Reference and the algorithms it
names, never arbitrary bytes, and logs the Reference it signed, so the person next to the token
can see what the key was used for.
"""

from __future__ import annotations

import base64
import binascii
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final, Protocol

from fiscalmix_agent.digestinfo import HashName
from fiscalmix_agent.errors import BadRequest

logger = logging.getLogger(__name__)

DSIG: Final = "http://www.w3.org/2000/09/xmldsig#"
C14N_1_0: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED: Final = f"{DSIG}enveloped-signature"
MAX_SIGNED_INFO_BYTES: Final = 8 * 1024  # a SEFAZ SignedInfo is under 1 KB
# SignatureMethod → the hash the RSA signature uses. SEFAZ's schemas fix rsa-sha1; the national
# NFS-e's unrestricted schema also admits rsa-sha256.
SIGNATURE_METHODS: Final[dict[str, HashName]] = {
    f"{DSIG}rsa-sha1": "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "sha256",
}
DIGEST_METHODS: Final[dict[str, int]] = {
    f"{DSIG}sha1": 20,
    "http://www.w3.org/2001/04/xmlenc#sha256": 32,
}
_TRANSFORMS: Final = frozenset({ENVELOPED, C14N_1_0})


class PkcsSigner(Protocol):
    """What signs: the token signer (or a key in tests)."""

    def sign_pkcs1v15(self, data: bytes, hash_name: HashName) -> bytes:
        """RSASSA-PKCS1-v1_5 of ``data`` hashed with ``hash_name``."""
        ...


@dataclass(frozen=True)
class SignedInfoSignature:
    """The SignatureValue for a SignedInfo, and what that SignedInfo references."""

    signature_value: bytes
    reference_uri: str
    signature_method: str


def _q(name: str) -> str:
    return f"{{{DSIG}}}{name}"


def _algorithm(element: ET.Element | None, what: str) -> str:
    if element is None or not element.get("Algorithm"):
        raise BadRequest(f"SignedInfo lacks {what}")
    return element.get("Algorithm", "")


def check_signed_info(data: bytes) -> tuple[str, HashName, str]:
    """Validate a canonical SignedInfo; return (SignatureMethod, its hash, the Reference URI).

    Raises BadRequest naming the first thing that is not an XMLDSig SignedInfo the agent signs.
    """
    if len(data) > MAX_SIGNED_INFO_BYTES:
        raise BadRequest(f"SignedInfo of {len(data)} bytes refused (at most {MAX_SIGNED_INFO_BYTES})")
    if b"<!" in data or b"<?" in data:
        raise BadRequest("SignedInfo must be canonical XML: no DOCTYPE, comment or processing instruction")
    try:
        root = ET.fromstring(data)  # noqa: S314 - DOCTYPE refused above, so no entity can expand
    except ET.ParseError as exc:
        raise BadRequest(f"SignedInfo is not well-formed XML: {exc}") from exc
    if root.tag != _q("SignedInfo"):
        raise BadRequest(f"expected an XMLDSig SignedInfo, got {root.tag}")
    if _algorithm(root.find(_q("CanonicalizationMethod")), "CanonicalizationMethod") != C14N_1_0:
        raise BadRequest("SignedInfo must use C14N 1.0 (REC-xml-c14n-20010315), as SEFAZ requires")
    method = _algorithm(root.find(_q("SignatureMethod")), "SignatureMethod")
    if method not in SIGNATURE_METHODS:
        raise BadRequest(
            f"SignatureMethod {method} is not one the agent signs ({', '.join(SIGNATURE_METHODS)})"
        )
    references = root.findall(_q("Reference"))
    if len(references) != 1:
        raise BadRequest(f"SignedInfo must hold exactly one Reference, found {len(references)}")
    reference = references[0]
    uri = reference.get("URI", "")
    if len(uri) < 2 or not uri.startswith("#"):
        raise BadRequest(f"the Reference must point into the same document (URI '#Id'), got {uri!r}")
    transforms = {_algorithm(t, "Transform Algorithm") for t in reference.iter(_q("Transform"))}
    if not transforms <= _TRANSFORMS:
        raise BadRequest(f"unexpected transforms {sorted(transforms - _TRANSFORMS)}")
    digest_method = _algorithm(reference.find(_q("DigestMethod")), "DigestMethod")
    if digest_method not in DIGEST_METHODS:
        raise BadRequest(f"DigestMethod {digest_method} is not accepted")
    try:
        digest_value = base64.b64decode(reference.findtext(_q("DigestValue")) or "", validate=True)
    except binascii.Error as exc:
        raise BadRequest("DigestValue is not base64") from exc
    if len(digest_value) != DIGEST_METHODS[digest_method]:
        raise BadRequest("DigestValue has the wrong length for its DigestMethod")
    return method, SIGNATURE_METHODS[method], uri


def sign_signed_info(signer: PkcsSigner, data: bytes) -> SignedInfoSignature:
    """Check ``data`` (the C14N SignedInfo) and sign it on the token."""
    method, hash_name, uri = check_signed_info(data)
    signature = signer.sign_pkcs1v15(data, hash_name)
    logger.info("signed XML element %s (%s)", uri.removeprefix("#"), method.rpartition("#")[2])
    return SignedInfoSignature(signature_value=signature, reference_uri=uri, signature_method=method)
