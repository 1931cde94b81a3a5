"""The token through PKCS#11 on SoftHSM2: finding it, listing, PINs, and pulling it out mid-run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes

from fiscalmix_agent.errors import CertificateNotFound, ModuleNotFound, NoToken, TokenRemoved, WrongPin
from fiscalmix_agent.signer import TokenSigner
from fiscalmix_agent.token import TokenDescription, TokenSession
from tests.softhsm import COMPANY_CNPJ, COMPANY_NAME, SOFTHSM_MODULE, USER_PIN, SoftHsm, SoftToken


class CountingPin:
    """A pin provider that counts how often it was asked."""

    def __init__(self, pin: str) -> None:
        self.pin, self.asked = pin, 0

    def __call__(self, token: TokenDescription) -> str:
        self.asked += 1
        return self.pin


def test_lists_the_certificate_without_the_pin(token: SoftToken) -> None:
    session = TokenSession(SOFTHSM_MODULE, label=token.label)
    description = session.find()
    (listed,) = session.certificates(with_key_only=False)  # the CA certificates are left out

    assert (description.label, description.model) == ("fiscalmix", "SoftHSM v2")
    assert listed.info.cnpj == COMPANY_CNPJ
    assert listed.info.holder_name == COMPANY_NAME
    assert listed.info.fingerprint_sha256 == token.certificate.fingerprint(hashes.SHA256()).hex()
    assert listed.info.not_before <= datetime.now(UTC) <= listed.info.not_after
    assert listed.info.to_json()["not_after"] == token.certificate.not_valid_after_utc.isoformat()


def test_login_pairs_the_certificate_with_its_key(token: SoftToken) -> None:
    session = TokenSession(SOFTHSM_MODULE, label=token.label)
    pin = CountingPin(USER_PIN)
    session.open(pin)
    try:
        certificate = session.certificate(None)
        assert certificate.key_id == b"\x01"
        assert session.certificate(certificate.info.fingerprint_sha256.upper()) == certificate
        with pytest.raises(CertificateNotFound, match="not on the token"):
            session.certificate("00" * 32)
        assert pin.asked == 1
    finally:
        session.close()


def test_a_wrong_pin_is_explained_and_forgotten(token: SoftToken) -> None:
    session = TokenSession(SOFTHSM_MODULE, label=token.label)
    with pytest.raises(WrongPin) as refused:
        session.open(lambda _: "0000")
    assert "refused the PIN" in refused.value.message
    assert "few PIN attempts left" in refused.value.message  # SoftHSM sets CKF_USER_PIN_COUNT_LOW
    assert refused.value.code == "wrong_pin" and not refused.value.retryable
    assert not session.ensure_open()  # no PIN kept: nothing is retried behind the user's back


def test_no_token_with_that_label(token: SoftToken) -> None:
    with pytest.raises(NoToken, match="No token labelled 'other' is plugged in") as missing:
        TokenSession(SOFTHSM_MODULE, label="other").find()
    assert SOFTHSM_MODULE in missing.value.message and missing.value.retryable


def test_a_missing_module_says_how_to_fix_it(tmp_path) -> None:
    with pytest.raises(ModuleNotFound, match="does not exist"):
        TokenSession(str(tmp_path / "libnothing.so")).find()
    not_a_module = tmp_path / "libbroken.so"
    not_a_module.write_bytes(b"not an ELF file")
    with pytest.raises(ModuleNotFound, match="could not be loaded"):
        TokenSession(str(not_a_module)).find()


def test_token_pulled_out_mid_run_and_plugged_back(softhsm: SoftHsm) -> None:
    removable = softhsm.create_token("removable")
    session = TokenSession(softhsm.module_copy(), label="removable")
    pin = CountingPin(USER_PIN)
    session.open(pin)
    signer = TokenSigner(session, session.certificate(None))
    assert signer.sign_pkcs1v15_sha1(b"before")

    pulled_out = softhsm.root / "pulled-out"  # outside the token folder SoftHSM scans
    shutil.move(removable.directory, pulled_out)
    with pytest.raises(TokenRemoved, match=r"removed or stopped answering\. Plug it back in") as removed:
        signer.sign_pkcs1v15_sha1(b"while out")
    assert removed.value.code == "token_removed" and removed.value.retryable
    assert not session.is_open and not session.ensure_open()

    shutil.move(pulled_out, removable.directory)
    assert session.ensure_open()
    assert signer.sign_pkcs1v15_sha1(b"after")
    assert pin.asked == 1  # logged in again with the PIN kept in memory
    session.close()
