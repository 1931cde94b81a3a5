"""Each fault as a client sees it over HTTPS, and what a fault does (or not) to the engine."""

from __future__ import annotations

import http.client
import json

import pytest

from fiscal_core.errors import DocumentError
from fiscal_core.xmlsafe import parse_xml
from local.sefaz import FaultKind, Service
from tests.unit.sefaz_sim import messages as m

from .conftest import COMPANY, Client

DIST = m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0))


def test_timeout_holds_the_connection_past_the_clients_patience(sefaz, identities):
    impatient = Client(sefaz.url, sefaz.ca_pem, identities["valid"], timeout=0.3)
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.TIMEOUT, seconds=2)

    with pytest.raises(TimeoutError):
        impatient.dist(DIST)


def test_reset_drops_the_connection(sefaz, client):
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.RESET)

    # http.client reports it as RemoteDisconnected, a ConnectionResetError: OpenSSL surfaces the
    # RST under TLS as the end of the stream.
    with pytest.raises(ConnectionResetError):
        client.dist(DIST)


@pytest.mark.parametrize(("kind", "status"), [(FaultKind.HTTP_500, 500), (FaultKind.HTTP_503, 503)])
def test_http_errors_come_as_iis_pages(sefaz, client, kind, status):
    sefaz.faults.inject(Service.NFE_DIST, kind)

    reply = client.dist(DIST)

    assert (reply.status, reply.content_type.split(";")[0]) == (status, "text/html")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_soap_fault_speaks_the_requests_soap_version(sefaz, client, version):
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.SOAP_FAULT)

    reply = client.dist(DIST, version=version)

    envelope_ns = m.SOAP11 if version == "1.1" else m.SOAP12
    assert reply.status == 500
    assert reply.xml().find(f"{{{envelope_ns}}}Body/{{{envelope_ns}}}Fault") is not None


def test_a_malformed_body_is_not_xml(sefaz, client):
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.MALFORMED)

    reply = client.dist(DIST)

    assert reply.status == 200
    with pytest.raises(DocumentError, match="malformed or truncated"):
        parse_xml(reply.body)


def test_a_truncated_answer_ends_before_its_content_length(sefaz, client):
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.TRUNCATED)

    with pytest.raises(http.client.IncompleteRead):
        client.dist(DIST)


def test_an_unprocessed_fault_leaves_the_engine_untouched_a_processed_one_does_not(sefaz, client):
    sefaz.seed(COMPANY.cnpj, name=COMPANY.name, documents=60)
    usage = sefaz.engine.usage(Service.NFE_DIST, COMPANY.cnpj)
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.HTTP_503)
    client.dist(DIST)
    before = usage.last_ult_nsu
    sefaz.faults.inject(Service.NFE_DIST, FaultKind.TRUNCATED, processed=True)

    with pytest.raises(http.client.IncompleteRead):
        client.dist(DIST)

    assert (before, usage.last_ult_nsu) == (None, 50)  # SEFAZ moved on; the client never saw ultNSU 50


def test_faults_are_per_service_and_persistent_ones_last(sefaz, client):
    sefaz.faults.inject(Service.CTE_DIST, FaultKind.HTTP_503, persistent=True)

    nfe = client.dist(DIST)
    cte = [client.soap(m.CTE_DIST_PATH, b"", m.CTE_DIST_ACTION).status for _ in range(2)]

    assert nfe.status == 200
    assert cte == [503, 503]


def test_adn_faults_damage_the_json(sefaz, client):
    sefaz.faults.inject(Service.ADN_DIST, FaultKind.MALFORMED)

    reply = client.send("GET", "/contribuintes/DFe/0?lote=true")

    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.body)
    assert not sefaz.ledger  # the request never reached the queues


def test_unknown_paths_are_404(client):
    reply = client.send("GET", "/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx?wsdl")

    assert reply.status == 404
