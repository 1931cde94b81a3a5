"""fiscal_core.signing: SEFAZ-shaped enveloped signatures, delegated keys and verification."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from fiscal_core.certificates import cnpj_of
from fiscal_core.signing import (
    DSIG_NS,
    InvalidSignature,
    KeySigner,
    SignatureError,
    sign_element,
    verify_element,
)
from local.fixtures.certificates import CertificateAuthority, Variant, build_ca, default_ca
from local.fixtures.xmlsec import check_signatures
from local.fixtures.xsd import schema_errors

NFE = "http://www.portalfiscal.inf.br/nfe"
DS = f"{{{DSIG_NS}}}"
CNPJ = "11222333000181"
KEY = "35200311222333000181550010001807401003642341"
EVENT_ID = f"ID210210{KEY}01"
ENVELOPE = (
    f'<envEvento xmlns="{NFE}" versao="1.00"><idLote>1</idLote><evento versao="1.00">'
    f'<infEvento Id="{EVENT_ID}"><cOrgao>91</cOrgao><tpAmb>2</tpAmb><CNPJ>{CNPJ}</CNPJ>'
    f"<chNFe>{KEY}</chNFe><dhEvento>2026-03-10T10:00:00-03:00</dhEvento><tpEvento>210210</tpEvento>"
    '<nSeqEvento>1</nSeqEvento><verEvento>1.00</verEvento><detEvento versao="1.00">'
    "<descEvento>Ciencia da Operacao</descEvento></detEvento></infEvento></evento></envEvento>"
).encode()


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return default_ca()


@pytest.fixture(scope="module")
def signer(ca: CertificateAuthority) -> KeySigner:
    return ca.issue_ecnpj(CNPJ, "DESTINATARIO TESTE LTDA").signer()


def _find(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path)
    assert found is not None, path
    return found


def _evento(root: etree._Element) -> etree._Element:
    return _find(root, f"{{{NFE}}}evento")


def test_signature_is_the_last_child_of_the_signed_elements_parent(signer):
    root = etree.fromstring(ENVELOPE)
    signed = sign_element(root, EVENT_ID, signer)
    assert [etree.QName(child).localname for child in _evento(signed)] == ["infEvento", "Signature"]
    assert root.find(f".//{DS}Signature") is None, "the input is left untouched"


def test_signed_request_satisfies_the_restricted_schema(signer):
    signed = etree.tostring(sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer))
    assert schema_errors(signed, "nfe_evento_mde/schemas/v1_0/envConfRecebto_v1.00.xsd") == []


def test_signature_uses_the_algorithms_sefaz_fixes(signer):
    signature = _find(sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer), f".//{DS}Signature")
    assert signature.nsmap == {None: DSIG_NS}
    algorithms = [node.get("Algorithm") for node in signature.iter() if node.get("Algorithm")]
    assert algorithms == [
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    ]
    assert _find(signature, f"{DS}SignedInfo/{DS}Reference").get("URI") == f"#{EVENT_ID}"
    certificate_text = signature.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate") or ""
    assert "\n" not in certificate_text
    assert base64.b64decode(certificate_text) == signer.certificate.public_bytes(Encoding.DER)


def test_signature_verifies_with_signxml_and_xmlsec1(signer, ca: CertificateAuthority):
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer)
    verified = verify_element(_evento(signed), ca.trusted)
    assert verified.element_id == EVENT_ID
    assert cnpj_of(verified.certificate) == CNPJ
    assert verified.signed_c14n.startswith(f'<infEvento xmlns="{NFE}" Id="{EVENT_ID}">'.encode())
    assert all(check.ok for check in check_signatures(etree.tostring(signed), ca.trusted))


class RecordingSigner:
    """A stand-in for a token-backed signer: only the signing callable is available."""

    def __init__(self, inner: KeySigner) -> None:
        self.certificate = inner.certificate
        self.inner = inner
        self.signed: list[bytes] = []

    def sign_pkcs1v15_sha1(self, data: bytes) -> bytes:
        self.signed.append(data)
        return self.inner.sign_pkcs1v15_sha1(data)


def test_private_key_operation_is_delegated_to_the_signer(signer, ca: CertificateAuthority):
    delegate = RecordingSigner(signer)
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, delegate)
    assert len(delegate.signed) == 1
    assert delegate.signed[0].startswith(f'<SignedInfo xmlns="{DSIG_NS}">'.encode())
    assert verify_element(_evento(signed), ca.trusted).element_id == EVENT_ID


@pytest.mark.parametrize(
    ("document", "element_id", "message"),
    [
        (ENVELOPE, "ID-missing", "no element"),
        (b'<r xmlns="urn:x"><a Id="A"/><b Id="A"/></r>', "A", "2 elements"),
        (b'<r xmlns="urn:x" Id="R"><a/></r>', "R", "needs a parent"),
    ],
)
def test_unsignable_ids_are_refused(signer, document, element_id, message):
    with pytest.raises(SignatureError, match=message):
        sign_element(etree.fromstring(document), element_id, signer)


def test_signing_twice_is_refused(signer):
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer)
    with pytest.raises(SignatureError, match="already holds a Signature"):
        sign_element(signed, EVENT_ID, signer)


def test_tampered_content_fails_verification(signer, ca: CertificateAuthority):
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer)
    _find(signed, f".//{{{NFE}}}tpAmb").text = "1"
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_element(_evento(signed), ca.trusted)


def test_certificate_from_another_hierarchy_is_not_trusted(signer):
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer)
    with pytest.raises(InvalidSignature):
        verify_element(_evento(signed), build_ca("untrusted").trusted)


def test_self_signed_certificate_is_not_trusted(ca: CertificateAuthority):
    rogue = ca.issue_ecnpj(CNPJ, variant=Variant.SELF_SIGNED).signer()
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, rogue)
    with pytest.raises(InvalidSignature):
        verify_element(_evento(signed), ca.trusted)


def test_expired_certificate_verifies_only_within_its_validity(ca: CertificateAuthority):
    expired = ca.issue_ecnpj(CNPJ, variant=Variant.EXPIRED)
    evento = _evento(sign_element(etree.fromstring(ENVELOPE), EVENT_ID, expired.signer()))
    with pytest.raises(InvalidSignature, match="expired"):
        verify_element(evento, ca.trusted)
    during = expired.certificate.not_valid_before_utc + timedelta(days=30)
    assert verify_element(evento, ca.trusted, at=during).element_id == EVENT_ID


def test_reference_must_point_at_a_sibling(signer, ca: CertificateAuthority):
    # Signed inside <w>, then moved up to <r>: cryptographically valid, but it no longer sits next
    # to what it signs, which SEFAZ's layout requires.
    signed = sign_element(etree.fromstring(b'<r xmlns="urn:x"><w><a Id="A">x</a></w></r>'), "A", signer)
    signed.append(_find(signed, f".//{DS}Signature"))
    with pytest.raises(InvalidSignature, match="not its sibling"):
        verify_element(signed, ca.trusted)


def test_verification_needs_trust_anchors(signer):
    signed = sign_element(etree.fromstring(ENVELOPE), EVENT_ID, signer)
    with pytest.raises(InvalidSignature, match="no trusted certificates"):
        verify_element(_evento(signed), [])
