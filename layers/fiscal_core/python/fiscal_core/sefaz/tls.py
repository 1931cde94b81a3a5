"""TLS client contexts that present a company's A1 certificate without its key touching a disk.

``ssl.SSLContext.load_cert_chain`` reads only from paths. The key goes through an anonymous memory
file (``memfd_create``): it has no name in any filesystem, lives in RAM, is reachable only through
this process's ``/proc/self/fd`` and disappears when closed, right after OpenSSL has read it. What
is written there is the key encrypted under a one-time random password, so even that short-lived
memory file never holds the plaintext key. Lambda runs Linux, where ``memfd_create`` exists; no
fallback writes the key anywhere else.

pyOpenSSL could load the key from memory directly, but it is not in the layer, and its connections
are not ``ssl.SSLSocket``s, so ``http.client`` could not use them.
"""

from __future__ import annotations

import os
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fiscal_core.certificates import A1Certificate
from fiscal_core.errors import FiscalMixError, InvalidValue

# OpenSSL's CipherString for servers still on small DH keys or legacy ciphers (DH_KEY_TOO_SMALL,
# docs/sefaz-protocol.md §9.4); applied only to the hosts listed in TlsSettings.legacy_hosts.
LEGACY_CIPHERS = "DEFAULT@SECLEVEL=1"


class TlsSetupError(FiscalMixError):
    """The client TLS context cannot be built: no trust store, or no way to keep the key in memory."""


@dataclass(frozen=True)
class ClientIdentity:
    """The certificate presented to the server, its chain, and its key (in memory only)."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate] = ()

    @classmethod
    def from_a1(cls, a1: A1Certificate) -> ClientIdentity:
        """The identity of an A1 certificate loaded by :func:`fiscal_core.certificates.load_pfx`."""
        return cls(private_key=a1.private_key, certificate=a1.certificate, chain=a1.chain)

    def certificate_chain_pem(self) -> bytes:
        """The leaf and then its chain, as PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.certificate, *self.chain))


@dataclass(frozen=True)
class TlsSettings:
    """How servers are verified: a CA bundle (file and/or PEM text) and per-host cipher leniency.

    Production trusts the ICP-Brasil roots (and whatever public roots the hosts need); local runs
    trust the test CA. There is no default trust store: which roots vouch for SEFAZ is a decision.
    """

    ca_file: str | None = None
    ca_pem: str | None = None
    legacy_hosts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.ca_file and not self.ca_pem:
            raise InvalidValue("tls", "give the CA bundle that verifies the servers (ca_file or ca_pem)")


def client_context(
    identity: ClientIdentity, settings: TlsSettings, *, legacy_ciphers: bool
) -> ssl.SSLContext:
    """A TLS 1.2+ client context that verifies the server and presents ``identity``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=settings.ca_file, cadata=settings.ca_pem)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise TlsSetupError(f"the CA bundle cannot be loaded: {exc}") from exc
    if legacy_ciphers:
        context.set_ciphers(LEGACY_CIPHERS)
    try:
        _load_identity(context, identity)
    except ssl.SSLError as exc:
        raise TlsSetupError(
            f"OpenSSL refused the certificate of {identity.certificate.subject.rfc4514_string()}: {exc}"
        ) from exc
    return context


def _load_identity(context: ssl.SSLContext, identity: ClientIdentity) -> None:
    if not hasattr(os, "memfd_create"):
        raise TlsSetupError(
            "mutual TLS needs os.memfd_create (Linux) to hand the key to OpenSSL without a file; "
            "run on Linux (Lambda, a container)"
        )
    password = secrets.token_hex(32).encode()
    encrypted_key = identity.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    descriptor = os.memfd_create("fiscalmix-client-identity", os.MFD_CLOEXEC)
    try:
        _write_all(descriptor, identity.certificate_chain_pem() + encrypted_key)
        context.load_cert_chain(f"/proc/self/fd/{descriptor}", password=password)
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
