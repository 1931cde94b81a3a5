"""Which servers the agent trusts with the company's certificate, and the check of their chains.

tlslite-ng checks little of a server's chain, so the agent verifies it with ``cryptography``'s
RFC 5280 path validation (``x509.verification``), hostname or IP included, against a CA bundle:
the one the cloud delivered at pairing or the user configured, else the system's. SEFAZ's servers
chain to ICP-Brasil or to public roots depending on the host, so which roots vouch for them is a
decision made once, in configuration, never per request.
"""

from __future__ import annotations

import ipaddress
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from fiscalmix_agent.errors import ConfigError, HostNotAllowed, UntrustedServer

# Where Linux distributions keep the system bundle when Python does not say.
_SYSTEM_BUNDLES: Final = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
# The hosts SEFAZ, the Ambiente Nacional and the national NFS-e live under.
DEFAULT_ALLOWED_HOSTS: Final = (".gov.br",)


def load_bundle(pem: bytes, source: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle; ConfigError when it holds none."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ConfigError(f"the CA bundle {source} is not a PEM certificate bundle: {exc}") from exc
    return certificates


def system_roots() -> list[x509.Certificate]:
    """The operating system's trusted roots."""
    if sys.platform == "win32":
        return [
            x509.load_der_x509_certificate(der)
            for store in ("ROOT", "CA")
            for der, encoding, _ in ssl.enum_certificates(store)
            if encoding == "x509_asn"
        ]
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *_SYSTEM_BUNDLES):
        if candidate and Path(candidate).is_file():
            return load_bundle(Path(candidate).read_bytes(), candidate)
    raise ConfigError(
        "No system CA bundle was found; configure the CA bundle that verifies SEFAZ's servers "
        "(sefaz_ca_file in the configuration, or --sefaz-ca)."
    )


@dataclass(frozen=True)
class HostPolicy:
    """The hosts the agent presents the company's certificate to: exact names, or ``.suffix``.

    A company's e-CNPJ opens more doors than SEFAZ's (banks, the Receita's portals), so a relay
    that would connect anywhere the cloud asks would lend it to anyone who controls the cloud's
    messages.
    """

    allowed: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS

    def check(self, host: str) -> None:
        """Raise HostNotAllowed unless ``host`` matches an allowed name or suffix."""
        name = host.lower().rstrip(".")
        for allowed in self.allowed:
            pattern = allowed.lower()
            if name == pattern or (pattern.startswith(".") and name.endswith(pattern)):
                return
        raise HostNotAllowed(
            f"The agent does not present the company's certificate to {host}: only to "
            f"{', '.join(self.allowed)}. Add the host to allowed_hosts in the agent's configuration "
            "if it really is a fiscal authority."
        )


class ServerVerifier:
    """Verifies a server's chain (leaf first, as sent in the handshake) for a host or IP address."""

    def __init__(self, roots: Sequence[x509.Certificate]) -> None:
        if not roots:
            raise ConfigError("the CA bundle that verifies SEFAZ's servers is empty")
        self._store = Store(list(roots))

    def verify(self, chain_der: Sequence[bytes], host: str, at: datetime | None = None) -> x509.Certificate:
        """Return the verified leaf; UntrustedServer saying why the chain is refused."""
        if not chain_der:
            raise UntrustedServer(f"{host} sent no certificate")
        try:
            leaf, *intermediates = [x509.load_der_x509_certificate(der) for der in chain_der]
        except ValueError as exc:
            raise UntrustedServer(f"{host} sent an unreadable certificate: {exc}") from exc
        builder = PolicyBuilder().store(self._store).time(at or datetime.now(UTC))
        try:
            verifier = builder.build_server_verifier(_subject(host))
            verifier.verify(leaf, intermediates)
        except (VerificationError, ValueError) as exc:
            raise UntrustedServer(
                f"The certificate of {host} ({leaf.subject.rfc4514_string()}) is not trusted: {exc}. "
                "If this is really SEFAZ, the CA bundle the agent uses lacks its root; otherwise "
                "something is intercepting the connection."
            ) from exc
        return leaf


def _subject(host: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
