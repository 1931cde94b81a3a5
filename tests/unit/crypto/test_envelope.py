"""Envelope encryption against moto's KMS: round trip and every way an envelope can be wrong."""

from __future__ import annotations

import dataclasses

import pytest

from fiscal_core.crypto.envelope import (
    FORMAT_VERSION,
    EncryptionContext,
    Envelope,
    EnvelopeCipher,
)
from fiscal_core.errors import EncryptionError

PFX = b"0\x82\x0b\x1f" + bytes(range(256)) * 12  # stands in for a PKCS#12 file
CTX = EncryptionContext("acc1", "co1", "cert1")


@pytest.fixture
def cipher(kms) -> EnvelopeCipher:
    key_id = kms.create_key(Description="certificates")["KeyMetadata"]["KeyId"]
    return EnvelopeCipher(kms, key_id)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_round_trip(cipher):
    envelope = cipher.encrypt(PFX, CTX)
    assert envelope.version == FORMAT_VERSION
    assert len(envelope.nonce) == 12
    assert PFX not in envelope.ciphertext
    assert len(envelope.ciphertext) == len(PFX) + 16  # GCM tag
    assert cipher.decrypt(envelope, CTX) == PFX


def test_every_envelope_has_its_own_key_and_nonce(cipher):
    first, second = cipher.encrypt(PFX, CTX), cipher.encrypt(PFX, CTX)
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


def test_the_aad_is_canonical_json():
    assert CTX.aad() == (
        b'{"account_id":"acc1","certificate_id":"cert1","company_id":"co1","purpose":"certificate-pfx"}'
    )


@pytest.mark.parametrize(
    "other",
    [
        EncryptionContext("acc2", "co1", "cert1"),
        EncryptionContext("acc1", "co2", "cert1"),
        EncryptionContext("acc1", "co1", "cert2"),
        EncryptionContext("acc1", "co1", "cert1", purpose="certificate-password"),
    ],
    ids=["other-account", "other-company", "other-certificate", "other-purpose"],
)
def test_a_different_context_fails_at_kms(cipher, other):
    envelope = cipher.encrypt(PFX, CTX)
    with pytest.raises(EncryptionError, match="unwrapping the data key") as info:
        cipher.decrypt(envelope, other)
    assert "certificate" in str(info.value)


def test_an_envelope_of_another_certificate_does_not_open(cipher):
    theirs = cipher.encrypt(b"their pfx", EncryptionContext("acc1", "co1", "cert2"))
    with pytest.raises(EncryptionError, match="unwrapping the data key"):
        cipher.decrypt(theirs, CTX)


def test_a_ciphertext_swapped_under_our_wrapped_key_fails_authentication(cipher):
    ours = cipher.encrypt(PFX, CTX)
    theirs = cipher.encrypt(b"their pfx", EncryptionContext("acc1", "co1", "cert2"))
    spliced = dataclasses.replace(ours, nonce=theirs.nonce, ciphertext=theirs.ciphertext)
    with pytest.raises(EncryptionError, match="failed authentication"):
        cipher.decrypt(spliced, CTX)


@pytest.mark.parametrize("index", [0, 5, -17, -1])
def test_a_flipped_ciphertext_bit_fails_authentication(cipher, index):
    envelope = cipher.encrypt(PFX, CTX)
    at = index % len(envelope.ciphertext)
    tampered = dataclasses.replace(envelope, ciphertext=flip(envelope.ciphertext, at))
    with pytest.raises(EncryptionError, match="failed authentication"):
        cipher.decrypt(tampered, CTX)


@pytest.mark.parametrize("index", [0, 11])
def test_a_flipped_nonce_bit_fails_authentication(cipher, index):
    envelope = cipher.encrypt(PFX, CTX)
    tampered = dataclasses.replace(envelope, nonce=flip(envelope.nonce, index))
    with pytest.raises(EncryptionError, match="failed authentication"):
        cipher.decrypt(tampered, CTX)


def test_a_flipped_bit_anywhere_in_the_wrapped_key_fails(cipher):
    envelope = cipher.encrypt(PFX, CTX)
    for index in range(len(envelope.wrapped_key)):
        tampered = dataclasses.replace(envelope, wrapped_key=flip(envelope.wrapped_key, index))
        with pytest.raises(EncryptionError, match="data key"):
            cipher.decrypt(tampered, CTX)


def test_a_truncated_nonce_or_unknown_version_is_refused(cipher):
    envelope = cipher.encrypt(PFX, CTX)
    with pytest.raises(EncryptionError, match="nonce"):
        cipher.decrypt(dataclasses.replace(envelope, nonce=envelope.nonce[:8]), CTX)
    with pytest.raises(EncryptionError, match="format 2"):
        cipher.decrypt(dataclasses.replace(envelope, version=2), CTX)


def test_kms_failures_become_encryption_errors(kms):
    cipher = EnvelopeCipher(kms, "alias/does-not-exist")
    with pytest.raises(EncryptionError, match="generating a data key") as info:
        cipher.encrypt(PFX, CTX)
    assert info.value.__cause__ is not None


def test_an_envelope_never_holds_the_plaintext_key(cipher, kms):
    envelope = cipher.encrypt(PFX, CTX)
    plaintext_key = kms.decrypt(CiphertextBlob=envelope.wrapped_key,
                                EncryptionContext=CTX.as_dict())["Plaintext"]  # fmt: skip
    stored = b"".join(v if isinstance(v, bytes) else b"" for v in dataclasses.astuple(envelope))
    assert plaintext_key not in stored
    assert [f.name for f in dataclasses.fields(Envelope)] == [
        "version", "wrapped_key", "nonce", "ciphertext",
    ]  # fmt: skip
