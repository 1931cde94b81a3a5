"""fiscal_core.certificates: opening A1 PFX files and reading what FiscalMix needs from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

from fiscal_core.certificates import (
    CertificateError,
    InvalidCertificateFile,
    WrongCertificatePassword,
    cnpj_of,
    load_pfx,
)
from fiscal_core.errors import FiscalMixError
from fiscal_core.signing import sign_element, verify_element
from local.fixtures.certificates import CertificateAuthority, IssuedCertificate, Variant, default_ca, rsa_key
from local.fixtures.icp_brasil import CNPJ_OID, SanString, der_string

CNPJ = "11222333000181"
PASSWORD = "senha-do-a1"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return default_ca()


@pytest.fixture(scope="module")
def issued(ca: CertificateAuthority) -> IssuedCertificate:
    return ca.issue_ecnpj(CNPJ, "ACME INDUSTRIA LTDA")


def test_pfx_round_trip_reads_the_cnpj_from_the_subject_alt_name(issued: IssuedCertificate, ca):
    a1 = load_pfx(issued.to_pfx(PASSWORD), PASSWORD)
    assert a1.cnpj == CNPJ
    assert a1.holder_name == "ACME INDUSTRIA LTDA"
    assert a1.certificate == issued.certificate
    assert a1.chain == (ca.issuing, ca.root)
    assert a1.subject.startswith(f"CN=ACME INDUSTRIA LTDA:{CNPJ},")
    assert a1.issuer == ca.issuing.subject.rfc4514_string()
    assert a1.not_before == issued.certificate.not_valid_before_utc
    assert a1.not_after == issued.certificate.not_valid_after_utc
    assert a1.fingerprint_sha256 == issued.certificate.fingerprint(hashes.SHA256()).hex()
    assert a1.key_usages == {"digital_signature", "content_commitment", "key_encipherment"}
    assert "1.3.6.1.5.5.7.3.2" in a1.extended_key_usages  # clientAuth, for mutual TLS
    assert a1.is_valid_at(datetime.now(UTC))
    assert "private_key" not in repr(a1)


def test_loaded_key_signs_documents(issued: IssuedCertificate, ca):
    a1 = load_pfx(issued.to_pfx(PASSWORD), PASSWORD.encode())
    root = etree.fromstring(b'<r xmlns="urn:x"><e><i Id="ID1">x</i></e></r>')
    signed = sign_element(root, "ID1", a1.signer())
    assert verify_element(signed[0], ca.trusted).element_id == "ID1"


def test_wrong_password_is_a_clear_error(issued: IssuedCertificate):
    with pytest.raises(WrongCertificatePassword, match="password does not open this PFX") as caught:
        load_pfx(issued.to_pfx(PASSWORD), "senha-errada", source="A1 certificate of ACME")
    assert str(caught.value).startswith("A1 certificate of ACME:")
    assert isinstance(caught.value, FiscalMixError)


@pytest.mark.parametrize("data", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nMIIB"])
def test_non_pfx_data_is_refused(data):
    with pytest.raises(InvalidCertificateFile, match="not a PFX"):
        load_pfx(data, PASSWORD)


def test_pem_certificate_is_not_a_pfx(issued: IssuedCertificate):
    with pytest.raises(InvalidCertificateFile, match="not a PFX"):
        load_pfx(issued.certificate.public_bytes(serialization.Encoding.PEM), PASSWORD)


def test_pfx_without_private_key_is_refused(issued: IssuedCertificate):
    certificates_only = pkcs12.serialize_key_and_certificates(
        b"sem chave",
        None,
        None,
        [issued.certificate],
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    with pytest.raises(InvalidCertificateFile, match="no private key"):
        load_pfx(certificates_only, PASSWORD)


def _self_signed(common_name: str, key, san: x509.SubjectAlternativeName | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256())


def test_non_rsa_key_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    pfx = pkcs12.serialize_key_and_certificates(
        b"ec",
        key,
        _self_signed(f"EC LTDA:{CNPJ}", key),
        None,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    with pytest.raises(InvalidCertificateFile, match="RSA"):
        load_pfx(pfx, PASSWORD)


def test_cn_fallback_when_the_subject_alt_name_is_absent(ca):
    a1 = load_pfx(ca.issue_ecnpj(CNPJ, "ACME LTDA", variant=Variant.WITHOUT_SAN).to_pfx(PASSWORD), PASSWORD)
    assert a1.cnpj == CNPJ
    assert a1.holder_name == "ACME LTDA"


@pytest.mark.parametrize("encoding", list(SanString))
def test_cnpj_is_read_from_any_string_type(encoding):
    san = x509.SubjectAlternativeName([x509.OtherName(CNPJ_OID, der_string(CNPJ, encoding))])
    # A CN without CNPJ proves the value came from the subjectAltName.
    assert cnpj_of(_self_signed("SEM CNPJ NO CN", rsa_key(f"e-CNPJ {CNPJ}"), san)) == CNPJ


def test_subject_alt_name_wins_over_the_common_name():
    key = rsa_key("san over cn")
    other = "11444777000161"
    san = x509.SubjectAlternativeName([x509.OtherName(CNPJ_OID, der_string(CNPJ, SanString.PRINTABLE))])
    assert cnpj_of(_self_signed(f"EMPRESA:{other}", key, san)) == CNPJ


def test_certificate_without_cnpj_yields_none():
    assert cnpj_of(_self_signed("FULANO DE TAL:52998224725", rsa_key("e-CPF"))) is None


def test_variants_load_with_the_properties_they_claim(ca):
    now = datetime.now(UTC)
    expired = load_pfx(ca.issue_ecnpj(CNPJ, variant=Variant.EXPIRED).to_pfx(PASSWORD), PASSWORD)
    assert not expired.is_valid_at(now)
    assert expired.not_after < now
    future = load_pfx(ca.issue_ecnpj(CNPJ, variant=Variant.NOT_YET_VALID).to_pfx(PASSWORD), PASSWORD)
    assert not future.is_valid_at(now)
    assert future.not_before > now
    other = load_pfx(ca.issue_ecnpj(CNPJ, variant=Variant.OTHER_CNPJ).to_pfx(PASSWORD), PASSWORD)
    assert other.cnpj is not None
    assert other.cnpj[:8] != CNPJ[:8]
    rogue = load_pfx(ca.issue_ecnpj(CNPJ, variant=Variant.SELF_SIGNED).to_pfx(PASSWORD), PASSWORD)
    assert rogue.subject == rogue.issuer
    assert rogue.chain == ()
    assert rogue.cnpj == CNPJ


def test_errors_share_one_base_class():
    assert issubclass(WrongCertificatePassword, CertificateError)
    assert issubclass(InvalidCertificateFile, CertificateError)
