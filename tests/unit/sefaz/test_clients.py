"""The facades over a fake transport: what goes out, what comes back, retries and environments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz import (
    HOMOLOGATION,
    PRODUCTION,
    AdnClient,
    Category,
    ConnectionFailed,
    DistDFeClient,
    DistFamily,
    HttpResponse,
    MalformedResponse,
    Manifestacao,
    ManifestacaoEvent,
    RecepcaoEventoClient,
    RetryPolicy,
    SoapFault,
    SoapVersion,
    local_environment,
)
from fiscal_core.sefaz.environments import Service, TpAmb
from fiscal_core.signing import verify_element
from fiscal_core.xmlsafe import parse_xml
from local.fixtures.certificates import CertificateAuthority, IssuedCertificate
from local.fixtures.documents import GeneratedDocument
from local.fixtures.xsd import assert_valid
from tests.unit.sefaz.answers import (
    CTE_NS,
    CTE_WSDL,
    NFE_NS,
    SOAP11,
    Doc,
    adn_answer,
    adn_item,
    dist_answer,
    event_answer,
    ret_dist_dfe,
    ret_env_evento,
    soap_fault,
    text,
)
from tests.unit.sefaz.conftest import FakeTransport

CNPJ = "11222333000181"
NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0)


def _body_payload(body: bytes, name: str) -> etree._Element:
    return next(parse_xml(body).iter(f"{{*}}{name}"))


def test_dist_nsu_posts_a_valid_request_and_reads_the_page(nfe: GeneratedDocument) -> None:
    page = ret_dist_dfe(
        "138",
        "Documento(s) localizado(s)",
        ult_nsu="000000000000051",
        max_nsu="000000000000090",
        docs=[Doc("000000000000051", "procNFe_v4.00.xsd", nfe.xml)],
    )
    transport = FakeTransport([dist_answer(page)])
    result = DistDFeClient(transport, HOMOLOGATION, cuf_autor="SP").dist_nsu(CNPJ, 50)
    assert (result.outcome.category, result.ult_nsu, result.documents[0].xml) == (
        Category.SUCCESS,
        "000000000000051",
        nfe.xml,
    )
    method, url, body, headers = transport.calls[0]
    assert (method, url) == (
        "POST",
        "https://hom1.nfe.fazenda.gov.br/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx",
    )
    assert headers["Content-Type"].startswith("application/soap+xml; charset=utf-8; action=")
    request = _body_payload(body, "distDFeInt")
    assert_valid(request, "nfe_dist_dfe/schemas/v1_0/distDFeInt_v1.01.xsd")
    assert request.findtext(f"{{{NFE_NS}}}distNSU/{{{NFE_NS}}}ultNSU") == "000000000000050"
    assert request.findtext(f"{{{NFE_NS}}}tpAmb") == "2"


def test_soap_11_is_a_switch() -> None:
    answer = dist_answer(ret_dist_dfe("137", "Nenhum documento localizado", tp_amb="1"), soap=SOAP11)
    transport = FakeTransport([answer])
    client = DistDFeClient(transport, PRODUCTION, soap_version=SoapVersion.SOAP11)
    assert client.cons_nsu(CNPJ, 7).outcome.category is Category.EMPTY
    headers = transport.calls[0][3]
    assert (
        headers["SOAPAction"]
        == '"http://www.portalfiscal.inf.br/nfe/wsdl/NFeDistribuicaoDFe/nfeDistDFeInteresse"'
    )


def test_cte_client_uses_its_own_service_and_layout() -> None:
    answer = dist_answer(
        ret_dist_dfe("137", "Nenhum documento localizado", namespace=CTE_NS), wsdl_ns=CTE_WSDL
    )
    transport = FakeTransport([answer])
    client = DistDFeClient(transport, HOMOLOGATION, family=DistFamily.CTE, cuf_autor="41")
    assert client.dist_nsu(CNPJ, 0).outcome.category is Category.EMPTY
    _, url, body, _ = transport.calls[0]
    assert url == HOMOLOGATION.url(Service.CTE_DISTRIBUICAO)
    assert_valid(_body_payload(body, "distDFeInt"), "cte_dist_dfe/schemas/v1_0/distDFeInt_v1.00.xsd")
    with pytest.raises(InvalidValue, match="consChNFe"):
        client.cons_chave(CNPJ, "35200311222333000181550010001807401003642345")
    with pytest.raises(InvalidValue, match="cuf_autor"):
        DistDFeClient(transport, HOMOLOGATION, family=DistFamily.CTE)


def test_documents_from_another_environment_are_refused() -> None:
    production_answer = dist_answer(ret_dist_dfe("137", "Nenhum documento localizado", tp_amb="1"))
    with pytest.raises(MalformedResponse, match="environment '1'"):
        DistDFeClient(FakeTransport([production_answer]), HOMOLOGATION).dist_nsu(CNPJ, 0)


def test_transient_failures_are_retried_and_faults_are_not() -> None:
    page = dist_answer(ret_dist_dfe("137", "Nenhum documento localizado"))
    busy = HttpResponse(503, {}, b"<html>Service Unavailable</html>")
    transport = FakeTransport([ConnectionFailed("x", "reset"), busy, page])
    waits: list[float] = []
    client = DistDFeClient(transport, HOMOLOGATION, retry=NO_WAIT, sleep=waits.append)
    assert client.dist_nsu(CNPJ, 0).outcome.category is Category.EMPTY
    assert len(transport.calls) == 3 and len(waits) == 2
    assert transport.calls[0][2] == transport.calls[2][2]  # the same request, byte for byte

    faulty = FakeTransport([soap_fault(), page])
    with pytest.raises(SoapFault):
        DistDFeClient(faulty, HOMOLOGATION, retry=NO_WAIT, sleep=waits.append).dist_nsu(CNPJ, 0)
    assert len(faulty.calls) == 1


class FakeAn:
    """Plays the AN's RecepcaoEvento: verifies each signature and registers every event (135)."""

    def __init__(self, ca: CertificateAuthority) -> None:
        self.ca = ca
        self.bodies: list[bytes] = []

    def post(self, url: str, body: bytes, headers: object) -> HttpResponse:
        self.bodies.append(body)
        env = _body_payload(body, "envEvento")
        rows = []
        for evento in env.iter(f"{{{NFE_NS}}}evento"):
            verify_element(evento, self.ca.trusted)
            inf = evento[0]
            rows.append(
                (
                    "135",
                    "Evento registrado e vinculado a NF-e",
                    text(inf, f"{{{NFE_NS}}}chNFe"),
                    text(inf, f"{{{NFE_NS}}}tpEvento"),
                    int(text(inf, f"{{{NFE_NS}}}nSeqEvento")),
                )
            )
        return event_answer(ret_env_evento(text(env, f"{{{NFE_NS}}}idLote"), rows), wrapper="nfeResultMsg")

    def get(self, url: str, headers: object) -> HttpResponse:
        raise AssertionError("the AN is only posted to")


def test_manifestar_signs_sends_and_keeps_the_proc(
    nfe: GeneratedDocument, recipient_certificate: IssuedCertificate, ca: CertificateAuthority
) -> None:
    an = FakeAn(ca)
    clock = lambda: datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # noqa: E731
    client = RecepcaoEventoClient(an, HOMOLOGATION, recipient_certificate.signer(), clock=clock)
    result = client.manifestar(
        recipient_certificate.cnpj or "", [ManifestacaoEvent(nfe.key, Manifestacao.CIENCIA)]
    )
    assert result.outcome.ok and result.id_lote == str(int(clock().timestamp() * 1000) % 10**15)
    (event,) = result.events
    assert (event.outcome.category, event.chave) == (Category.REGISTERED, nfe.key)
    assert event.proc_evento is not None
    assert_valid(event.proc_evento, "nfe_evento_mde/schemas/v1_0/procConfRecebtoNFe_v1.00.xsd")
    assert b"nfeRecepcaoEventoNF" not in an.bodies[0]  # the action travels in the header, the body is bare


def test_adn_client_fetches_and_checks_the_environment() -> None:
    nfse = b'<NFSe xmlns="http://www.sped.fazenda.gov.br/nfse"/>'
    answer = adn_answer(
        200,
        {
            "StatusProcessamento": "DOCUMENTOS_LOCALIZADOS",
            "LoteDFe": [adn_item(8, nfse)],
            "TipoAmbiente": "HOMOLOGACAO",
        },
    )
    transport = FakeTransport([answer])
    result = AdnClient(transport, HOMOLOGATION).fetch(7, CNPJ)
    assert (result.last_nsu, result.documents[0].xml) == (8, nfse)
    assert transport.calls[0][:2] == (
        "GET",
        f"https://adn.producaorestrita.nfse.gov.br/contribuintes/DFe/7?lote=true&cnpjConsulta={CNPJ}",
    )
    wrong = adn_answer(
        200, {"StatusProcessamento": "DOCUMENTOS_LOCALIZADOS", "LoteDFe": [], "TipoAmbiente": "PRODUCAO"}
    )
    with pytest.raises(MalformedResponse, match="PRODUCAO"):
        AdnClient(FakeTransport([wrong]), HOMOLOGATION).fetch(7)


def test_local_environment_keeps_the_real_paths() -> None:
    local = local_environment("https://127.0.0.1:8443")
    assert (
        local.url(Service.NFE_DISTRIBUICAO)
        == "https://127.0.0.1:8443/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx"
    )
    assert local.url(Service.ADN_CONTRIBUINTES) == "https://127.0.0.1:8443/contribuintes"
    assert local.tp_amb is TpAmb.HOMOLOGATION
    for bad in ("http://127.0.0.1:8443", "https://127.0.0.1:8443/x", "127.0.0.1"):
        with pytest.raises(InvalidValue, match="base_url"):
            local_environment(bad)
    assert PRODUCTION.url(Service.NFE_RECEPCAO_EVENTO) == (
        "https://www.nfe.fazenda.gov.br/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx"
    )
