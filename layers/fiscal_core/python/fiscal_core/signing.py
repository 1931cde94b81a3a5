"""XML digital signatures in the one shape SEFAZ, the AN and the ADN accept.

The NF-e family embeds a restricted xmldsig schema that fixes every algorithm: enveloped signature,
C14N 1.0, RSA-SHA1 and SHA-1 digests, exactly two transforms and a KeyInfo holding one
X509Certificate. The Signature uses the default namespace (a ``ds:`` prefix is rejected with cStat
404/290) and is the last child of the signed element's parent (after ``infNFeSupl`` on NFC-e).

The private-key operation goes through :class:`Signer`, so an A3 token (PKCS#11) or a remote HSM can
replace the in-memory A1 key without touching the XML code.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Protocol, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding, PKCS1v15
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.processor import XMLSignatureProcessor
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from fiscal_core.errors import FiscalMixError

DSIG_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
_SIGNATURE_TAG: Final = f"{{{DSIG_NS}}}Signature"
# The default-namespace map; lxml and signxml both take None as the default prefix although their
# annotations only admit str keys.
_DSIG_NSMAP: Final = cast("dict[str, str]", {None: DSIG_NS})


class SignatureError(FiscalMixError):
    """A document could not be signed: the element to sign is missing, ambiguous or already signed."""


class InvalidSignature(SignatureError):
    """A signature does not verify: tampered content, untrusted or expired certificate, wrong shape."""


class Signer(Protocol):
    """Holds a private key (in memory, on a token, in an HSM) and the certificate that names it."""

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's leaf certificate, embedded in KeyInfo."""
        ...

    def sign_pkcs1v15_sha1(self, data: bytes) -> bytes:
        """Return the RSASSA-PKCS1-v1_5 signature of ``data`` hashed with SHA-1."""
        ...


@dataclass(frozen=True)
class KeySigner:
    """A :class:`Signer` over an RSA key held in memory, as loaded from an A1 (PFX) certificate."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate

    def sign_pkcs1v15_sha1(self, data: bytes) -> bytes:
        """Sign with the in-memory key; SHA-1 because the SEFAZ schemas fix rsa-sha1."""
        return self.private_key.sign(data, PKCS1v15(), hashes.SHA1())  # noqa: S303


class _DelegatedKey:
    """Stands in for the ``RSAPrivateKey`` signxml expects and forwards the one call it makes.

    signxml calls ``key.sign(data, padding=PKCS1v15(), algorithm=SHA1())`` and, because KeyInfo is
    supplied by us, never reads the public key; this lets a token-backed Signer work through signxml.
    """

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def sign(self, data: bytes, padding: AsymmetricPadding, algorithm: hashes.HashAlgorithm) -> bytes:
        if not isinstance(padding, PKCS1v15) or not isinstance(algorithm, hashes.SHA1):
            raise SignatureError(
                f"SEFAZ signatures use PKCS#1 v1.5 with SHA-1; signxml asked for "
                f"{padding.name} with {algorithm.name}"
            )
        return self._signer.sign_pkcs1v15_sha1(data)


def _rerooted(node: etree._Element) -> etree._Element:
    """A copy of ``node`` as the root of its own document, with its in-scope namespaces."""
    return etree.fromstring(etree.tostring(node, with_tail=False))


class _RootedC14N(XMLSignatureProcessor):
    """Canonicalizes copies re-rooted at the node, never a node inside a larger tree.

    With lxml 6.1 / libxml2 2.14, C14N of a non-root element emits spurious ``xmlns=""`` from two
    levels down, which breaks SignedInfo of every default-namespace signature. signxml already
    re-roots reference payloads; this does the same for SignedInfo. Re-rooting keeps the inherited
    namespace declarations (lxml copies them); SEFAZ documents carry no inherited ``xml:*`` attributes.
    """

    def _c14n(
        self,
        nodes: etree._Element | list[etree._Element],
        algorithm: CanonicalizationMethod,
        inclusive_ns_prefixes: list[str] | None = None,
    ) -> bytes:
        listed = nodes if isinstance(nodes, list) else [nodes]
        rooted = [node if node.getparent() is None else _rerooted(node) for node in listed]
        c14n: bytes = super()._c14n(rooted, algorithm=algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)
        return c14n


class _SefazXMLSigner(_RootedC14N, XMLSigner):
    """signxml's signer configured for SEFAZ; SHA-1 is allowed because the schemas demand it."""

    def __init__(self) -> None:
        super().__init__(
            signature_algorithm=SignatureMethod.RSA_SHA1,
            digest_algorithm=DigestAlgorithm.SHA1,
            c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
        )
        self.namespaces = dict(_DSIG_NSMAP)

    def check_deprecated_methods(self) -> None:
        """Accept SHA-1: the restricted xmldsig schema of the NF-e family fixes rsa-sha1 and sha1."""


def _find_by_id(root: etree._Element, element_id: str) -> etree._Element:
    matches = root.xpath("descendant-or-self::*[@Id=$id]", id=element_id)
    assert isinstance(matches, list)
    if len(matches) != 1:
        found = "no element" if not matches else f"{len(matches)} elements"
        raise SignatureError(f"cannot sign Id {element_id!r}: {found} carry that Id")
    element = matches[0]
    assert isinstance(element, etree._Element)
    return element


def _key_info(certificate: x509.Certificate) -> etree._Element:
    # Built here rather than by signxml so the base64 has no line breaks (cStat 588 forbids
    # formatting characters) and KeyInfo holds the leaf only, as the restricted schema requires.
    key_info = etree.Element(f"{{{DSIG_NS}}}KeyInfo", nsmap=_DSIG_NSMAP)
    x509_data = etree.SubElement(key_info, f"{{{DSIG_NS}}}X509Data")
    cert_element = etree.SubElement(x509_data, f"{{{DSIG_NS}}}X509Certificate")
    cert_element.text = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    return key_info


def sign_element(root: etree._Element, element_id: str, signer: Signer) -> etree._Element:
    """Return a signed copy of ``root``; the element whose ``Id`` is ``element_id`` is signed.

    The Signature becomes the last child of the signed element's parent (``evento`` for
    ``infEvento``, ``NFe`` for ``infNFe``...), with Reference URI ``#<element_id>``. ``root`` itself
    is left untouched. Raises SignatureError when the Id is missing, repeated, on the root, or when
    the parent already holds a Signature.
    """
    work = _rerooted(root)
    target = _find_by_id(work, element_id)
    parent = target.getparent()
    if parent is None:
        raise SignatureError(f"cannot sign Id {element_id!r}: the signed element needs a parent")
    if parent.find(_SIGNATURE_TAG) is not None:
        raise SignatureError(f"cannot sign Id {element_id!r}: {parent.tag} already holds a Signature")
    try:
        # signxml signs a copy of the element it is given and appends the Signature to it, which
        # puts the Signature right where the schemas want it: last child of the parent.
        signed_parent = _SefazXMLSigner().sign(
            parent,
            key=cast(rsa.RSAPrivateKey, _DelegatedKey(signer)),
            reference_uri=f"#{element_id}",
            key_info=_key_info(signer.certificate),
            id_attribute="Id",
        )
    except SignXMLException as exc:
        raise SignatureError(f"signing Id {element_id!r} failed: {exc}") from exc
    holder = parent.getparent()
    if holder is None:
        work = signed_parent
    else:
        holder.replace(parent, signed_parent)
    # signxml builds default-namespace Signature nodes that are right only once serialized; parse
    # them back so the tree in memory matches its bytes (find, C14N and verification agree).
    return _rerooted(work)


@dataclass(frozen=True)
class VerifiedSignature:
    """What a valid signature covers: the signed element's Id, the signer and the signed bytes."""

    element_id: str
    certificate: x509.Certificate
    signed_c14n: bytes


class _SefazXMLVerifier(_RootedC14N, XMLVerifier):
    """signxml's verifier with re-rooted C14N (see _RootedC14N)."""


_SEFAZ_CONFIG: Final = SignatureConfiguration(
    location="./",
    signature_methods=frozenset({SignatureMethod.RSA_SHA1}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA1}),
    expect_references=1,
)


def verify_element(
    signed_parent: etree._Element,
    trusted: Sequence[x509.Certificate],
    *,
    at: datetime | None = None,
) -> VerifiedSignature:
    """Verify the Signature that is a direct child of ``signed_parent`` (``evento``, ``NFe``...).

    The certificate in KeyInfo must chain to ``trusted`` (roots and intermediates; KeyInfo carries
    the leaf only) and be valid at ``at`` (default: now). The Reference must point at a sibling of
    the Signature, so a signature cannot vouch for content elsewhere in the document.
    Raises InvalidSignature saying why verification failed.
    """
    if not trusted:
        raise InvalidSignature("no trusted certificates given; cannot establish trust")
    config = replace(_SEFAZ_CONFIG, verification_time=at)
    pem = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in trusted)
    # signxml reads its trust store from a file path only.
    with tempfile.NamedTemporaryFile(suffix=".pem") as ca_file:
        ca_file.write(pem)
        ca_file.flush()
        try:
            result = _SefazXMLVerifier().verify(
                signed_parent, ca_pem_file=ca_file.name, id_attribute="Id", expect_config=config
            )
        except (SignXMLException, etree.DocumentInvalid) as exc:
            raise InvalidSignature(f"signature of {signed_parent.tag} does not verify: {exc}") from exc
    assert not isinstance(result, list)  # expect_references=1 yields a single result
    reference = result.signature_xml.find(f"{{{DSIG_NS}}}SignedInfo/{{{DSIG_NS}}}Reference")
    assert reference is not None  # verification already resolved it
    element_id = str(reference.get("URI", "")).removeprefix("#")
    if not any(child.get("Id") == element_id for child in signed_parent):
        raise InvalidSignature(
            f"signature in {signed_parent.tag} references {element_id!r}, which is not its sibling"
        )
    cert_text = result.signature_xml.findtext(f".//{{{DSIG_NS}}}X509Certificate") or ""
    certificate = x509.load_der_x509_certificate(base64.b64decode(cert_text))
    return VerifiedSignature(element_id=element_id, certificate=certificate, signed_c14n=result.signed_data)
