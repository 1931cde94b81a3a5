"""KMS envelope encryption of certificate material (A1 PFX files and their passwords).

Each secret gets a fresh AES-256 data key from KMS GenerateDataKey and is sealed locally with
AES-256-GCM under a random 96-bit nonce. The encryption context (account, company,
certificate and what the secret is) is bound twice: as KMS's EncryptionContext, so KMS will
not unwrap the data key under any other context, and as the GCM associated data, so the
ciphertext will not open under any other context even with the right key. Only the wrapped
key, the nonce, the ciphertext and a format version are stored.

Python cannot promise to wipe memory: the plaintext data key is copied into a bytearray that
is overwritten after use, and every other reference to it is dropped at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fiscal_core.errors import EncryptionError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

FORMAT_VERSION: Final = 1
NONCE_BYTES: Final = 12
KEY_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class EncryptionContext:
    """What a secret belongs to; decrypting needs exactly the context it was sealed with."""

    account_id: str
    company_id: str
    certificate_id: str
    purpose: str = "certificate-pfx"  # or "certificate-password": the two never swap

    def as_dict(self) -> dict[str, str]:
        """The KMS EncryptionContext."""
        return {
            "account_id": self.account_id,
            "company_id": self.company_id,
            "certificate_id": self.certificate_id,
            "purpose": self.purpose,
        }

    def aad(self) -> bytes:
        """The GCM associated data: the context as canonical JSON (sorted keys, no spaces)."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode()

    def describe(self) -> str:
        """The context in words, for error messages."""
        return (
            f"{self.purpose} of certificate {self.certificate_id} "
            f"(company {self.company_id}, account {self.account_id})"
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    """A sealed secret as stored: never the plaintext key or the plaintext."""

    version: int
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes  # AES-GCM output: the encrypted data followed by its 16-byte tag


class EnvelopeCipher:
    """Seal and open secrets under a KMS key; the KMS client is injected (a moto one in tests)."""

    def __init__(self, kms: KMSClient, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id

    def encrypt(self, plaintext: bytes, context: EncryptionContext) -> Envelope:
        """Seal ``plaintext`` under a fresh data key bound to ``context``."""
        with _kms_call(f"generating a data key for the {context.describe()}"):
            response = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=context.as_dict()
            )
        wrapped_key = response["CiphertextBlob"]
        key = bytearray(response["Plaintext"])
        del response  # the only other reference to the plaintext key
        nonce = os.urandom(NONCE_BYTES)
        with _wiped(key):
            ciphertext = AESGCM(key).encrypt(nonce, plaintext, context.aad())
        return Envelope(FORMAT_VERSION, wrapped_key, nonce, ciphertext)

    def decrypt(self, envelope: Envelope, context: EncryptionContext) -> bytes:
        """Open ``envelope``; EncryptionError names what failed if anything does not match."""
        what = context.describe()
        if envelope.version != FORMAT_VERSION:
            raise EncryptionError(f"the {what} uses envelope format {envelope.version}, not {FORMAT_VERSION}")
        if len(envelope.nonce) != NONCE_BYTES:
            raise EncryptionError(f"the nonce of the {what} is damaged ({len(envelope.nonce)} bytes)")
        with _kms_call(
            f"unwrapping the data key of the {what}: wrong context, or a damaged or foreign wrapped key"
        ):
            response = self._kms.decrypt(
                CiphertextBlob=envelope.wrapped_key,
                EncryptionContext=context.as_dict(),
                KeyId=self._key_id,
            )
        key = bytearray(response["Plaintext"])
        del response  # the only other reference to the plaintext key
        with _wiped(key):
            try:
                return AESGCM(key).decrypt(envelope.nonce, envelope.ciphertext, context.aad())
            except InvalidTag as exc:
                raise EncryptionError(
                    f"the {what} failed authentication: its ciphertext or nonce was altered,"
                    " or it was sealed for another certificate"
                ) from exc


@contextmanager
def _wiped(key: bytearray) -> Iterator[None]:
    """Use a plaintext data key, then overwrite it whatever happens."""
    try:
        if len(key) != KEY_BYTES:
            raise EncryptionError(f"KMS returned a {len(key)}-byte data key, expected {KEY_BYTES}")
        yield
    finally:
        key[:] = bytes(len(key))


@contextmanager
def _kms_call(doing: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise EncryptionError(f"KMS failed {doing} ({code})") from exc
    except BotoCoreError as exc:
        raise EncryptionError(f"KMS could not be reached while {doing}") from exc
