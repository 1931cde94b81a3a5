"""RSASSA-PKCS1-v1_5 pieces built outside the token (RFC 8017 §9.2).

Many tokens offer only CKM_RSA_PKCS (they pad, the caller hashes and wraps the hash in a DigestInfo)
and a few only CKM_RSA_X_509 (raw RSA: the caller also pads). The DigestInfo prefixes are the DER
of ``SEQUENCE { AlgorithmIdentifier { oid, NULL }, OCTET STRING }`` up to the hash itself.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

HashName = Literal["sha1", "sha256", "sha384", "sha512"]

DIGEST_INFO_PREFIXES: Final[dict[HashName, bytes]] = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_DIGEST_SIZES: Final[dict[HashName, int]] = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}


def digest(hash_name: HashName, data: bytes) -> bytes:
    """The hash of ``data``; SHA-1 only because SEFAZ's XMLDSig schema fixes rsa-sha1."""
    return hashlib.new(hash_name, data, usedforsecurity=hash_name != "sha1").digest()


def digest_info(hash_name: HashName, hashed: bytes) -> bytes:
    """The DER DigestInfo that PKCS#1 v1.5 signs, for a hash already computed."""
    if len(hashed) != _DIGEST_SIZES[hash_name]:
        raise ValueError(f"a {hash_name} hash has {_DIGEST_SIZES[hash_name]} bytes, got {len(hashed)}")
    return DIGEST_INFO_PREFIXES[hash_name] + hashed


def hash_of_digest_info(encoded: bytes) -> HashName | None:
    """Which hash a DigestInfo wraps, or None when it is not one of the known shapes."""
    for name, prefix in DIGEST_INFO_PREFIXES.items():
        if encoded.startswith(prefix) and len(encoded) == len(prefix) + _DIGEST_SIZES[name]:
            return name
    return None


def emsa_pkcs1_v15(encoded_digest_info: bytes, modulus_bytes: int) -> bytes:
    """``00 01 FF..FF 00 || DigestInfo``: the block raw RSA signs in place of CKM_RSA_PKCS."""
    padding = modulus_bytes - len(encoded_digest_info) - 3
    if padding < 8:
        raise ValueError("the key is too short for this DigestInfo")
    return b"\x00\x01" + b"\xff" * padding + b"\x00" + encoded_digest_info
