"""A1 files from the test CA, as the upload route takes them."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from local.fixtures.certificates import IssuedCertificate, Variant, build_ca, default_ca

PASSWORD = "s3nha-do-PFX!"


def issued(cnpj: str, variant: Variant = Variant.VALID) -> IssuedCertificate:
    return default_ca().issue_ecnpj(cnpj, "EMPRESA TESTE LTDA", variant=variant)


def upload(cnpj: str, variant: Variant = Variant.VALID, password: str = PASSWORD) -> dict[str, str]:
    """The JSON body of an A1 upload of a test CA certificate for ``cnpj``."""
    return body(issued(cnpj, variant).to_pfx(PASSWORD), password)


def body(pfx: bytes, password: str = PASSWORD) -> dict[str, str]:
    return {"pfx": base64.b64encode(pfx).decode(), "password": password}


def with_foreign_chain(cnpj: str) -> bytes:
    """A valid leaf shipped with CA certificates of the same names but other keys."""
    leaf = issued(cnpj)
    impostor = build_ca("impostor")
    return _pfx(leaf, [impostor.issuing, impostor.root])


def _pfx(leaf: IssuedCertificate, chain: list[object]) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"x",
        leaf.private_key,
        leaf.certificate,
        chain,  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
