"""Mutual TLS: without a certificate the test CA issued, and valid today, there is no conversation."""

from __future__ import annotations

import ssl
import time

import pytest

from local.fixtures.certificates import build_ca
from local.sefaz import SefazSimulator
from tests.unit.sefaz_sim import messages as m

from .conftest import COMPANY, Client, write_identity


def attempt(client: Client) -> None:
    client.dist(m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0)))


def failures(sefaz: SefazSimulator) -> tuple[str, ...]:
    """The server's record of refused handshakes; its thread may note one just after the client heard."""
    deadline = time.monotonic() + 2
    while not sefaz.handshake_failures and time.monotonic() < deadline:
        time.sleep(0.01)
    return sefaz.handshake_failures


@pytest.mark.parametrize(
    ("identity", "alert", "server_saw"),
    [
        (None, "sslv3 alert handshake failure", "peer did not return a certificate"),
        ("expired", "sslv3 alert certificate expired", "certificate has expired"),
        ("self-signed", "tlsv1 alert unknown ca", "self-signed certificate"),
    ],
    ids=["no-certificate", "expired", "self-signed"],
)
def test_the_handshake_fails_with_a_tls_alert(sefaz, identities, identity, alert, server_saw):
    client = Client(sefaz.url, sefaz.ca_pem, identities[identity] if identity else None)

    # The alert ends the client's own handshake (TLS 1.2), as "sslv3 alert ..." errors report it.
    with pytest.raises(ssl.SSLError, match=alert):
        attempt(client)

    assert len(failures(sefaz)) == 1
    assert server_saw in failures(sefaz)[0]
    assert not sefaz.ledger  # no request ever reached a service


def test_a_certificate_from_another_hierarchy_is_refused(sefaz, tmp_path):
    rogue = build_ca("rogue").issue_ecnpj(COMPANY.cnpj, COMPANY.name)
    client = Client(sefaz.url, sefaz.ca_pem, write_identity(rogue, tmp_path))

    with pytest.raises(ssl.SSLError, match="unknown ca"):
        attempt(client)

    assert "certificate verify failed" in failures(sefaz)[0]


def test_the_server_certificate_chains_to_the_simulators_ca(sefaz, identities):
    untrusting = Client(sefaz.url, build_ca("rogue").trust_pem(), identities["valid"])

    with pytest.raises(ssl.SSLCertVerificationError):
        attempt(untrusting)
