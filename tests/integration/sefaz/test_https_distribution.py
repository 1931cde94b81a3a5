"""NF-e, CT-e and NFS-e distribution over real HTTPS with mutual TLS, answers checked against the XSDs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from lxml import etree

from fiscal_core.doczip import decode_doczip
from fiscal_core.xmlsafe import parse_xml
from local.fixtures.documents.xmlbuild import CTE_NS, NFE_NS
from local.fixtures.xsd import assert_valid
from local.sefaz import Code, SefazSimulator, Service, Story
from local.sefaz.distribuicao_dfe import DIST_SPECS
from tests.unit.sefaz_sim import messages as m

from .conftest import COMPANY, Client, Reply

NFE_XSD = DIST_SPECS[Service.NFE_DIST].response_xsd
CTE_XSD = DIST_SPECS[Service.CTE_DIST].response_xsd
# Well-behaved clients wait at least an hour between sessions; six keeps the test short.
BETWEEN_SESSIONS = timedelta(hours=6)


def ret(reply: Reply, namespace: str = NFE_NS, xsd: str = NFE_XSD) -> etree._Element:
    """The retDistDFeInt of a SOAP answer, after checking it against the official schema."""
    found = reply.xml().find(f".//{{{namespace}}}retDistDFeInt")
    assert found is not None, reply.body
    assert_valid(found, xsd)
    return found


def field(answer: etree._Element, name: str, namespace: str = NFE_NS) -> str:
    return answer.findtext(f"{{{namespace}}}{name}") or ""


def documents(answer: etree._Element, namespace: str = NFE_NS) -> list[tuple[int, str, bytes]]:
    return [
        (int(doc.get("NSU", "0")), doc.get("schema", ""), decode_doczip(doc.text or ""))
        for doc in answer.iterfind(f"{{{namespace}}}loteDistDFeInt/{{{namespace}}}docZip")
    ]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_distnsu_round_trip_in_both_soap_versions(sefaz: SefazSimulator, client: Client, version):
    sefaz.seed(COMPANY.cnpj, name=COMPANY.name, documents=30)

    reply = client.dist(m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0)), version=version)

    answer = ret(reply)
    expected_type = "text/xml" if version == "1.1" else "application/soap+xml"
    assert (reply.status, reply.content_type.split(";")[0]) == (200, expected_type)
    assert field(answer, "cStat") == "138"
    for nsu, schema, xml in documents(answer):
        assert parse_xml(xml).tag.startswith(f"{{{NFE_NS}}}")
        assert schema.endswith(".xsd") and nsu > 0


def sync(client: Client, ult_nsu: int, cnpj: str = COMPANY.cnpj) -> tuple[list[int], int]:
    """One well-behaved session: page while there is more, stop on 137 or once caught up."""
    received: list[int] = []
    while True:
        answer = ret(client.dist(m.dist_dfe(cnpj, m.dist_nsu(ult_nsu))))
        assert field(answer, "cStat") in ("137", "138"), field(answer, "xMotivo")
        received += [nsu for nsu, _, _ in documents(answer)]
        ult_nsu = int(field(answer, "ultNSU"))
        if field(answer, "cStat") == "137" or ult_nsu == int(field(answer, "maxNSU")):
            return received, ult_nsu


def test_a_well_behaved_client_gets_everything_as_it_arrives_and_breaks_no_rule(sefaz, client):
    now = sefaz.clock.now()
    seeded = sefaz.seed(
        COMPANY.cnpj,
        name=COMPANY.name,
        documents=60,
        since=now - timedelta(days=2),
        until=now + timedelta(hours=4),
    )
    log = sefaz.engine.log(Service.NFE_DIST, COMPANY.cnpj)
    received, ult_nsu, sessions = [], 0, 0
    while log.pending or ult_nsu < log.max_nsu:
        batch, ult_nsu = sync(client, ult_nsu)
        received += batch
        sessions += 1
        sefaz.clock.advance(BETWEEN_SESSIONS)
        log = sefaz.engine.log(Service.NFE_DIST, COMPANY.cnpj)

    assert received == list(range(1, seeded.total(Service.NFE_DIST) + 1))
    assert sessions > 1  # documents kept arriving between sessions
    assert not sefaz.ledger, sefaz.ledger.describe()


def test_an_impatient_client_is_blocked_and_recorded(sefaz, client):
    sync(client, 0)

    answer = ret(client.dist(m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0))))

    assert (field(answer, "cStat"), field(answer, "maxNSU")) == ("656", "0" * 15)
    assert sefaz.ledger.codes() == [Code.WAIT_AFTER_EMPTY]
    assert sefaz.ledger.entries[0].cnpj == COMPANY.cnpj


def test_the_certificate_must_share_the_cnpj_base_of_the_query(sefaz, identities):
    stranger = Client(sefaz.url, sefaz.ca_pem, identities["other-cnpj"])

    answer = ret(stranger.dist(m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0))))

    assert field(answer, "cStat") == "593"


def test_cte_distribution_round_trip(sefaz, client):
    seeded = sefaz.seed(COMPANY.cnpj, name=COMPANY.name, documents=20, mix={Story.CTE: 1})
    body = m.soap(
        m.cte_dist_dfe(COMPANY.cnpj, m.dist_nsu(0)),
        version="1.2",
        wsdl=m.CTE_DIST_WSDL,
        operation="cteDistDFeInteresse",
        holder="cteDadosMsg",
    )

    reply = client.soap(m.CTE_DIST_PATH, body, m.CTE_DIST_ACTION, version="1.2")

    answer = ret(reply, CTE_NS, CTE_XSD)
    received = documents(answer, CTE_NS)
    assert field(answer, "cStat", CTE_NS) == "138"
    assert {schema for _, schema, _ in received} == {"procCTe_v4.00.xsd"}
    assert len(received) == seeded.total(Service.CTE_DIST) == 20


def test_adn_pages_nfse_as_json(sefaz, client):
    sefaz.seed(COMPANY.cnpj, name=COMPANY.name, documents=0, nfse_documents=55)

    pages, nsu = [], 0
    while True:
        reply = client.send(
            "GET", f"/contribuintes/DFe/{nsu}?lote=true", headers={"accept": "application/json"}
        )
        body = json.loads(reply.body)
        if reply.status == 404:
            break
        pages.append(len(body["LoteDFe"]))
        nsu = body["LoteDFe"][-1]["NSU"]

    assert pages == [50, 5]
    assert body["Erros"][0]["Codigo"] == "E2220"
    assert not sefaz.ledger
