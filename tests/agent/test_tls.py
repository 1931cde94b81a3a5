"""Mutual TLS with the token's key against the SEFAZ simulator: a real DistDFe exchange.

The simulator is Python's ``ssl`` (OpenSSL) demanding a client certificate from the test CA and
answering for the CNPJ base of that certificate, so a 138 with the company's documents shows it
saw the token's certificate, and a 593 for another company shows it checks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest
from cryptography import x509

from fiscal_core.sefaz import DistDFeClient, local_environment
from fiscal_core.sefaz.distdfe import DistDFeResult, DistQuery
from fiscal_core.sefaz.transport import HttpResponse as CoreResponse
from fiscal_core.sefaz.transport import Transport
from fiscalmix_agent.errors import HostNotAllowed, UntrustedServer
from fiscalmix_agent.signer import TokenSigner
from fiscalmix_agent.tls import HttpResponse, TokenHttpsTransport
from fiscalmix_agent.token import TokenSession
from fiscalmix_agent.trust import HostPolicy, ServerVerifier, load_bundle
from local.fixtures.certificates import build_ca
from local.fixtures.identities import other_company_cnpj
from local.sefaz import SefazSimulator
from tests.softhsm import COMPANY_CNPJ, RAW_RSA_ONLY, SOFTHSM_MODULE, USER_PIN, SoftHsm, SoftToken

LOOPBACK = HostPolicy(("127.0.0.1",))


class CountingSigner:
    """The token signer, counting the signatures it makes."""

    def __init__(self, signer: TokenSigner) -> None:
        self._signer, self.signatures = signer, 0

    @property
    def certificate(self) -> x509.Certificate:
        return self._signer.certificate

    def sign_digest_info(self, encoded: bytes) -> bytes:
        self.signatures += 1
        return self._signer.sign_digest_info(encoded)


@pytest.fixture
def sefaz() -> Iterator[SefazSimulator]:
    """A simulator per test: its per-CNPJ hour rules must not leak between tests."""
    with SefazSimulator() as simulator:
        simulator.seed(COMPANY_CNPJ, documents=60)
        yield simulator
        assert simulator.errors == ()


@pytest.fixture
def signer(token: SoftToken) -> Iterator[CountingSigner]:
    session = TokenSession(SOFTHSM_MODULE, label=token.label)
    session.open(lambda _: USER_PIN)
    yield CountingSigner(TokenSigner(session, session.certificate(None)))
    session.close()


def dist_nsu(transport: TokenHttpsTransport, sefaz: SefazSimulator, cnpj: str) -> DistDFeResult:
    """One distNSU from zero, prepared and read by fiscal_core as the cloud does."""
    client = DistDFeClient(cast("Transport", None), local_environment(sefaz.url))  # prepare and read only
    query = DistQuery.dist_nsu(0)
    request = client.prepare(cnpj, query)
    answer: HttpResponse = transport.request("POST", request.url, request.body, request.headers)
    return client.read(query, CoreResponse(answer.status, answer.headers, answer.body))


def test_distdfe_over_mutual_tls_with_the_tokens_key(sefaz: SefazSimulator, signer: CountingSigner) -> None:
    transport = TokenHttpsTransport(signer, ServerVerifier(load_bundle(sefaz.ca_pem, "sim")), hosts=LOOPBACK)
    page = dist_nsu(transport, sefaz, COMPANY_CNPJ)
    assert (page.cstat, len(page.documents)) == ("138", 50)  # about 80 KB: many TLS records
    assert sefaz.handshake_failures == ()
    assert signer.signatures == 1  # one CertificateVerify, on the token
    other = dist_nsu(transport, sefaz, other_company_cnpj(COMPANY_CNPJ))
    assert other.cstat == "593"  # the simulator binds the query to the certificate it saw


def test_tokens_offering_only_raw_rsa_complete_the_handshake(
    sefaz: SefazSimulator, softhsm: SoftHsm, token: SoftToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = softhsm.module_copy()
    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm.configuration(RAW_RSA_ONLY)))
    session = TokenSession(module, label=token.label)
    session.open(lambda _: USER_PIN)
    signer = TokenSigner(session, session.certificate(None))
    transport = TokenHttpsTransport(signer, ServerVerifier(load_bundle(sefaz.ca_pem, "sim")), hosts=LOOPBACK)
    assert dist_nsu(transport, sefaz, COMPANY_CNPJ).cstat == "138"
    session.close()


def test_an_untrusted_server_gets_no_signature(sefaz: SefazSimulator, signer: CountingSigner) -> None:
    stranger = ServerVerifier(build_ca("not the simulator's").trusted)
    transport = TokenHttpsTransport(signer, stranger, hosts=LOOPBACK)
    with pytest.raises(UntrustedServer, match="is not trusted"):
        dist_nsu(transport, sefaz, COMPANY_CNPJ)
    assert signer.signatures == 0  # refused on the server's Certificate, before CertificateVerify
    deadline = time.monotonic() + 5  # the server logs the alert on its own thread
    while not sefaz.handshake_failures and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "bad certificate" in sefaz.handshake_failures[0]


def test_the_certificate_goes_only_to_allowed_hosts(sefaz: SefazSimulator, signer: CountingSigner) -> None:
    transport = TokenHttpsTransport(signer, ServerVerifier(load_bundle(sefaz.ca_pem, "sim")))
    with pytest.raises(HostNotAllowed, match=r"only to \.gov\.br"):
        dist_nsu(transport, sefaz, COMPANY_CNPJ)
    assert signer.signatures == 0
    HostPolicy().check("www1.nfe.fazenda.gov.br")
    with pytest.raises(HostNotAllowed):
        HostPolicy().check("gov.br.attacker.example")
