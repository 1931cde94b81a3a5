"""fiscal_core.sefaz clients against the SEFAZ simulator, over real mutual TLS on 127.0.0.1.

Each test works its own company so the simulator's per-CNPJ rules (the hour after 137, 656 blocks,
20 single queries an hour) never leak between tests; the ledger of broken rules is checked after
every test that means to follow them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from lxml import etree

from fiscal_core.sefaz import (
    AdnClient,
    Category,
    ClientIdentity,
    DistDFeClient,
    DistFamily,
    Environment,
    HttpsTransport,
    MalformedResponse,
    Manifestacao,
    ManifestacaoEvent,
    RecepcaoEventoClient,
    RetryClass,
    RetryPolicy,
    SoapFault,
    SoapVersion,
    Timeout,
    Timeouts,
    TlsFailure,
    TlsSettings,
    local_environment,
)
from fiscal_core.sefaz.distdfe import DistDFeResult
from local.fixtures.certificates import IssuedCertificate, build_ca, company_certificate
from local.fixtures.identities import cnpj_for
from local.fixtures.xmlsec import check_signatures
from local.fixtures.xsd import assert_valid
from local.sefaz import FaultKind, SeededCompany, SefazSimulator, Story
from local.sefaz import Service as Sim

NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0)


@pytest.fixture(scope="module")
def sefaz() -> Iterator[SefazSimulator]:
    """One simulator for the module."""
    with SefazSimulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _no_leftover_faults(sefaz: SefazSimulator) -> Iterator[None]:
    yield
    sefaz.faults.clear()
    assert sefaz.errors == ()


@pytest.fixture(scope="module")
def environment(sefaz: SefazSimulator) -> Environment:
    """The simulator's URLs, homologação."""
    return local_environment(sefaz.url)


def _transport(sefaz: SefazSimulator, certificate: IssuedCertificate, read: float = 10.0) -> HttpsTransport:
    identity = ClientIdentity(certificate.private_key, certificate.certificate, certificate.chain)
    return HttpsTransport(identity, TlsSettings(ca_pem=sefaz.ca_pem.decode()), Timeouts(connect=5, read=read))


def _seed(
    sefaz: SefazSimulator, name: str, *, documents: int, nfse_documents: int = 0, issued: int = 0
) -> tuple[SeededCompany, HttpsTransport]:
    """A company with recent documents (within the Ciência deadline) and a transport with its e-CNPJ."""
    cnpj = cnpj_for(f"sefaz clients {name}")
    now = sefaz.clock.now()
    seeded = sefaz.seed(
        cnpj,
        documents=documents,
        nfse_documents=nfse_documents,
        issued=issued,
        since=now - timedelta(days=3),
        until=now,
    )
    return seeded, _transport(sefaz, company_certificate(cnpj))


def _read_all(client: DistDFeClient, cnpj: str) -> tuple[list[DistDFeResult], str]:
    """distNSU from zero until SEFAZ says to wait, as the sync workflow does."""
    pages, ult_nsu = [], "0"
    while True:
        page = client.dist_nsu(cnpj, ult_nsu)
        assert page.outcome.ok, page.xmotivo
        pages.append(page)
        ult_nsu = page.ult_nsu or ult_nsu
        if page.outcome.retry is RetryClass.WAIT:
            return pages, ult_nsu


def test_nfe_distribution_reads_every_document_then_asks_for_the_hour(
    sefaz: SefazSimulator, environment: Environment
) -> None:
    seeded, transport = _seed(sefaz, "nfe", documents=70)
    pages, _ = _read_all(DistDFeClient(transport, environment, cuf_autor="SP"), seeded.cnpj)
    documents = [doc for page in pages for doc in page.documents]
    assert len(pages) > 1
    # Every NSU from 1 to maxNSU, once, in order: nothing skipped, nothing repeated.
    assert [int(doc.nsu or 0) for doc in documents] == list(range(1, int(pages[-1].max_nsu or 0) + 1))
    assert len(documents) <= seeded.total(Sim.NFE_DIST)  # the rest arrives later (procNFe after Ciência...)
    assert {doc.schema for doc in documents} >= {"resNFe_v1.01.xsd", "procNFe_v4.00.xsd"}
    assert all(etree.fromstring(doc.xml) is not None for doc in documents)
    assert pages[-1].caught_up and pages[-1].outcome.wait_seconds == 3600
    assert sefaz.ledger.for_cnpj(seeded.cnpj) == ()


def test_asking_again_too_soon_is_classified_as_a_block(
    sefaz: SefazSimulator, environment: Environment
) -> None:
    seeded, transport = _seed(sefaz, "impatient", documents=5)
    client = DistDFeClient(transport, environment)
    _, ult_nsu = _read_all(client, seeded.cnpj)
    blocked = client.dist_nsu(seeded.cnpj, ult_nsu)
    assert (blocked.cstat, blocked.outcome.category, blocked.outcome.retry) == (
        "656",
        Category.BLOCKED,
        RetryClass.WAIT,
    )
    assert blocked.outcome.wait_seconds == 3600
    assert [v.cstat for v in sefaz.ledger.for_cnpj(seeded.cnpj)] == ["656"]


def test_cte_distribution(sefaz: SefazSimulator, environment: Environment) -> None:
    seeded, transport = _seed(sefaz, "cte", documents=30)
    client = DistDFeClient(transport, environment, family=DistFamily.CTE, cuf_autor="PR")
    pages, _ = _read_all(client, seeded.cnpj)
    documents = [doc for page in pages for doc in page.documents]
    assert 0 < len(documents) <= seeded.total(Sim.CTE_DIST)
    assert {doc.schema for doc in documents} == {"procCTe_v4.00.xsd"}
    assert sefaz.ledger.for_cnpj(seeded.cnpj) == ()


def test_consultation_by_key_over_soap_11(sefaz: SefazSimulator, environment: Environment) -> None:
    seeded, transport = _seed(sefaz, "chave", documents=10, issued=1)
    client = DistDFeClient(transport, environment, soap_version=SoapVersion.SOAP11)
    received = client.cons_chave(seeded.cnpj, seeded.keys[Story.SUMMARY][0])
    assert received.outcome.category is Category.SUCCESS
    assert received.documents and seeded.keys[Story.SUMMARY][0].encode() in received.documents[0].xml
    own = client.cons_chave(seeded.cnpj, seeded.issued[0])
    assert (own.cstat, own.outcome.category, own.outcome.retry) == (
        "641",
        Category.PERMISSION,
        RetryClass.ASK_USER,
    )


def test_ciencia_is_registered_and_releases_the_procnfe(
    sefaz: SefazSimulator, environment: Environment
) -> None:
    seeded, transport = _seed(sefaz, "ciencia", documents=12)
    certificate = company_certificate(seeded.cnpj)
    key = seeded.keys[Story.SUMMARY][0]
    events = RecepcaoEventoClient(transport, environment, certificate.signer(), clock=sefaz.clock.now)
    dist = DistDFeClient(transport, environment)
    _, ult_nsu = _read_all(dist, seeded.cnpj)

    lot = events.manifestar(seeded.cnpj, [ManifestacaoEvent(key, Manifestacao.CIENCIA)])
    (event,) = lot.events
    assert (lot.outcome.cstat, event.outcome.category, event.chave) == ("128", Category.REGISTERED, key)
    assert event.proc_evento is not None and event.protocol
    assert_valid(event.proc_evento, "nfe_evento_mde/schemas/v1_0/procConfRecebtoNFe_v1.00.xsd")
    assert all(check.ok for check in check_signatures(event.proc_evento, sefaz.ca.trusted))

    again = events.manifestar(seeded.cnpj, [ManifestacaoEvent(key, Manifestacao.CIENCIA)])
    assert again.events[0].outcome.category is Category.DUPLICATE

    sefaz.clock.advance(timedelta(hours=1, minutes=15))  # the quiet hour and the UF's lag
    page = dist.dist_nsu(seeded.cnpj, ult_nsu)
    released = [
        doc for doc in page.documents if doc.schema == "procNFe_v4.00.xsd" and key.encode() in doc.xml
    ]
    assert released, [doc.schema for doc in page.documents]
    assert sefaz.ledger.for_cnpj(seeded.cnpj) == ()


def test_nfse_distribution_pages_until_the_empty_queue(
    sefaz: SefazSimulator, environment: Environment
) -> None:
    seeded, transport = _seed(sefaz, "nfse", documents=1, nfse_documents=60)
    client = AdnClient(transport, environment)
    first = client.fetch(0)
    second = client.fetch(first.last_nsu, seeded.cnpj)
    empty = client.fetch(second.last_nsu)
    assert (len(first.documents), len(first.documents) + len(second.documents)) == (50, 60)
    assert (empty.outcome.category, empty.outcome.retry, empty.documents) == (
        Category.EMPTY,
        RetryClass.WAIT,
        (),
    )
    assert all(doc.xml.startswith(b"<") for doc in first.documents + second.documents)


def test_another_companys_certificate_is_refused_with_593(
    sefaz: SefazSimulator, environment: Environment
) -> None:
    seeded, _ = _seed(sefaz, "victim", documents=1)
    stranger = _transport(sefaz, company_certificate(cnpj_for("someone else entirely")))
    result = DistDFeClient(stranger, environment).dist_nsu(seeded.cnpj, 0)
    assert (result.cstat, result.outcome.category, result.outcome.retry) == (
        "593",
        Category.PERMISSION,
        RetryClass.ASK_USER,
    )


def test_a_certificate_from_an_unknown_ca_fails_the_handshake(
    sefaz: SefazSimulator, environment: Environment
) -> None:
    rogue = build_ca("rogue").issue_ecnpj(cnpj_for("rogue company"))
    with pytest.raises(TlsFailure):
        DistDFeClient(_transport(sefaz, rogue), environment, retry=NO_WAIT).dist_nsu(rogue.cnpj or "", 0)
    deadline = time.monotonic() + 2
    while not sefaz.handshake_failures and time.monotonic() < deadline:
        time.sleep(0.02)  # the server records the failure in its own thread
    assert sefaz.handshake_failures


def test_transient_faults_are_retried(sefaz: SefazSimulator, environment: Environment) -> None:
    _, transport = _seed(sefaz, "flaky", documents=1, nfse_documents=3)
    waits: list[float] = []
    client = AdnClient(transport, environment, retry=NO_WAIT, sleep=waits.append)
    sefaz.faults.inject(Sim.ADN_DIST, FaultKind.HTTP_503)
    sefaz.faults.inject(Sim.ADN_DIST, FaultKind.RESET)
    assert len(client.fetch(0).documents) == 3
    assert len(waits) == 2


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (FaultKind.SOAP_FAULT, SoapFault),
        (FaultKind.MALFORMED, MalformedResponse),
        (FaultKind.TIMEOUT, Timeout),
    ],
)
def test_final_faults_surface_as_domain_errors(
    sefaz: SefazSimulator, environment: Environment, kind: FaultKind, error: type[Exception]
) -> None:
    seeded, _ = _seed(sefaz, f"fault {kind.value}", documents=1)
    transport = _transport(sefaz, company_certificate(seeded.cnpj), read=0.5)
    sefaz.faults.inject(Sim.CTE_DIST, kind, persistent=True, seconds=2)
    client = DistDFeClient(
        transport, environment, family=DistFamily.CTE, cuf_autor="SP", retry=NO_WAIT, sleep=lambda _: None
    )
    with pytest.raises(error):
        client.dist_nsu(seeded.cnpj, 0)
