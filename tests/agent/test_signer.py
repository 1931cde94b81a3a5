"""Signatures on the token through each mechanism a token may offer, forced on SoftHSM by its
``slots.mechanisms`` setting: the token then really lacks the others (CKR_MECHANISM_INVALID).

PKCS#1 v1.5 is deterministic, so the three paths must give the very same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pkcs11 import Mechanism

from fiscalmix_agent.digestinfo import digest, digest_info
from fiscalmix_agent.errors import SigningFailed
from fiscalmix_agent.signer import TokenSigner
from fiscalmix_agent.token import TokenSession
from tests.softhsm import NO_HASH_AND_SIGN, RAW_RSA_ONLY, SOFTHSM_MODULE, USER_PIN, SoftHsm, SoftToken

DATA = b"<SignedInfo>what SEFAZ will verify</SignedInfo>"


def _signer(module: str, token: SoftToken) -> Iterator[TokenSigner]:
    session = TokenSession(module, label=token.label)
    session.open(lambda _: USER_PIN)
    try:
        yield TokenSigner(session, session.certificate(None))
    finally:
        session.close()


@pytest.fixture
def full(token: SoftToken) -> Iterator[TokenSigner]:
    """The token with every SoftHSM mechanism."""
    yield from _signer(SOFTHSM_MODULE, token)


@pytest.fixture(
    params=[(NO_HASH_AND_SIGN, Mechanism.RSA_PKCS), (RAW_RSA_ONLY, Mechanism.RSA_X_509)],
    ids=["rsa-pkcs-only", "raw-rsa-only"],
)
def restricted(
    request: pytest.FixtureRequest, softhsm: SoftHsm, token: SoftToken, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TokenSigner, Mechanism]]:
    """The same token seen through a module instance configured without some mechanisms, and the
    mechanism the agent must fall back to."""
    disabled, fallback = request.param
    module = softhsm.module_copy()
    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm.configuration(disabled)))
    for signer in _signer(module, token):
        yield signer, fallback


def test_the_token_hashes_when_it_can(full: TokenSigner) -> None:
    assert full.mechanism_for("sha1") == Mechanism.SHA1_RSA_PKCS
    assert full.mechanism_for(None) == Mechanism.RSA_PKCS
    signature = full.sign_pkcs1v15_sha1(DATA)
    public = full.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, DATA, padding.PKCS1v15(), hashes.SHA1())


def test_fallbacks_sign_the_same_bytes(full: TokenSigner, restricted: tuple[TokenSigner, Mechanism]) -> None:
    fallback_signer, fallback = restricted
    assert fallback_signer.mechanism_for("sha1") == fallback_signer.mechanism_for(None) == fallback
    assert fallback_signer.sign_pkcs1v15_sha1(DATA) == full.sign_pkcs1v15_sha1(DATA)
    assert fallback_signer.sign_pkcs1v15(DATA, "sha256") == full.sign_pkcs1v15(DATA, "sha256")
    tls_digest_info = digest_info("sha256", digest("sha256", b"handshake messages"))
    assert fallback_signer.sign_digest_info(tls_digest_info) == full.sign_digest_info(tls_digest_info)


def test_only_digest_infos_are_signed_raw(full: TokenSigner) -> None:
    with pytest.raises(SigningFailed, match="not a DigestInfo"):
        full.sign_digest_info(b"\x00" * 51)
