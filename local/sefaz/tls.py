"""Mutual TLS as the SEFAZ endpoints require it, with the test CA in place of ICP-Brasil.

SEFAZ asks for the client certificate in the handshake itself: a missing, expired, untrusted or
self-signed certificate ends the handshake with a TLS alert (handshake_failure, certificate_expired,
unknown_ca), and no HTTP answer or cStat ever comes back; clients report "sslv3 alert ...",
"bad handshake" or a connection reset (§9.4). The simulator caps the protocol at TLS 1.2, as the
.asmx hosts do, so those alerts arrive during the client's handshake rather than on its first read
(under TLS 1.3 the server checks the client certificate after the client considers itself connected).
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from cryptography import x509

from fiscal_core.certificates import cnpj_of
from local.fixtures.certificates import CertificateAuthority


def server_context(
    ca: CertificateAuthority, *, maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
) -> ssl.SSLContext:
    """A server context for 127.0.0.1/localhost that requires a client certificate from ``ca``."""
    issued = ca.issue_server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = maximum_version
    # load_cert_chain reads files only; they live just long enough to be loaded.
    with tempfile.TemporaryDirectory(prefix="sefaz-sim-") as folder:
        chain, key = Path(folder, "server.pem"), Path(folder, "server.key")
        chain.write_bytes(issued.certificate_chain_pem())
        key.write_bytes(issued.private_key_pem())
        context.load_cert_chain(chain, key)
    context.load_verify_locations(cadata=ca.trust_pem().decode("ascii"))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_cnpj(connection: ssl.SSLSocket) -> str | None:
    """The CNPJ of the client certificate (otherName 2.16.76.1.3.3, else the CN), if it names one."""
    der = connection.getpeercert(binary_form=True)
    return cnpj_of(x509.load_der_x509_certificate(der)) if der else None
