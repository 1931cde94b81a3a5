"""SOAP: contracts read by zeep from local files, envelopes without prefixes, answers and faults."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from lxml import etree

from fiscal_core.sefaz import wsdl
from fiscal_core.sefaz.environments import TpAmb
from fiscal_core.sefaz.errors import HttpStatusError, MalformedResponse, SoapFault
from fiscal_core.sefaz.evento import Manifestacao, ManifestacaoEvent, build_env_evento
from fiscal_core.sefaz.soap import envelope, read_payload, soap_headers, soap_request
from fiscal_core.sefaz.transport import HttpResponse
from fiscal_core.sefaz.wsdl import (
    CTE_DIST_DFE,
    NFE_DIST_DFE,
    NFE_RECEPCAO_EVENTO,
    SoapVersion,
    WsdlError,
    soap_contract,
)
from fiscal_core.signing import InvalidSignature, verify_element
from fiscal_core.xmlsafe import parse_xml
from local.fixtures.certificates import CertificateAuthority, IssuedCertificate
from local.fixtures.documents import GeneratedDocument
from tests.unit.sefaz.answers import (
    DIST_WSDL,
    EVENT_WSDL,
    NFE_NS,
    SOAP11,
    SOAP12,
    dist_answer,
    event_answer,
    ret_dist_dfe,
    ret_env_evento,
    soap_fault,
)

URL = "https://127.0.0.1:1/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx"
PAYLOAD = f'<distDFeInt xmlns="{NFE_NS}" versao="1.01"><tpAmb>2</tpAmb></distDFeInt>'.encode()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"network access attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_contracts_come_from_the_local_wsdls_without_network(no_network: None) -> None:
    soap_contract.cache_clear()
    wsdl._client.cache_clear()
    nfe = soap_contract(NFE_DIST_DFE, SoapVersion.SOAP12)
    assert nfe.envelope_namespace == SOAP12
    assert nfe.action == f"{DIST_WSDL}/nfeDistDFeInteresse"
    assert nfe.wrapper == (f"{{{DIST_WSDL}}}nfeDistDFeInteresse", f"{{{DIST_WSDL}}}nfeDadosMsg")
    assert soap_contract(NFE_DIST_DFE, SoapVersion.SOAP11).envelope_namespace == SOAP11
    event = soap_contract(NFE_RECEPCAO_EVENTO, SoapVersion.SOAP12)
    assert (event.action, event.wrapper) == (
        f"{EVENT_WSDL}/nfeRecepcaoEventoNF",
        (f"{{{EVENT_WSDL}}}nfeDadosMsg",),
    )
    cte = soap_contract(CTE_DIST_DFE, SoapVersion.SOAP12)
    assert cte.action == "http://www.portalfiscal.inf.br/cte/wsdl/CTeDistribuicaoDFe/cteDistDFeInteresse"
    with pytest.raises(WsdlError, match=r"no SOAP 1\.1 binding"):
        soap_contract(CTE_DIST_DFE, SoapVersion.SOAP11)
    assert soap_contract(NFE_DIST_DFE, SoapVersion.SOAP12) is nfe  # parsed once per process


def test_zeeps_loader_reads_nothing_outside_the_vendored_directory() -> None:
    loader = wsdl._local_files_only()
    assert loader.load(str(wsdl.WSDL_DIR / "NFeDistribuicaoDFe.wsdl")).startswith(b"<?xml")
    for url in ("https://www1.nfe.fazenda.gov.br/x.asmx?wsdl", "/etc/passwd", "file:///etc/passwd"):
        with pytest.raises(WsdlError, match="refused"):
            loader.load(url)
    with pytest.raises(WsdlError, match="must not send"):
        loader.post("https://example.invalid", b"", {})


def _shape(element: etree._Element) -> list[str]:
    return [str(node.tag) for node in element.iter() if isinstance(node.tag, str)]


@pytest.mark.parametrize("operation", [NFE_DIST_DFE, NFE_RECEPCAO_EVENTO])
@pytest.mark.parametrize("version", list(SoapVersion))
def test_our_envelope_has_zeeps_shape_without_prefixes(
    operation: wsdl.WsdlOperation, version: SoapVersion
) -> None:
    contract = soap_contract(operation, version)
    ours = parse_xml(envelope(contract, PAYLOAD))
    client = wsdl._client(operation.file)
    proxy = client.bind(operation.service, operation.port(version))
    body = proxy._binding.get(operation.operation).input.body.type
    arguments = wsdl._marker_arguments(body)
    zeeps = client.create_message(proxy, operation.operation, **arguments)
    marker = next(zeeps.iter("{urn:fiscalmix:marker}payload"))
    marker.getparent().replace(marker, etree.fromstring(PAYLOAD))
    assert _shape(ours) == _shape(zeeps)
    assert all(set(node.nsmap) <= {None} for node in ours.iter())  # default namespaces only


def test_headers_follow_the_soap_version() -> None:
    action = f"{DIST_WSDL}/nfeDistDFeInteresse"
    assert soap_headers(soap_contract(NFE_DIST_DFE, SoapVersion.SOAP12)) == {
        "Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'
    }
    assert soap_headers(soap_contract(NFE_DIST_DFE, SoapVersion.SOAP11)) == {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{action}"',
    }
    request = soap_request(URL, soap_contract(NFE_DIST_DFE, SoapVersion.SOAP12), PAYLOAD)
    assert (request.method, request.url) == ("POST", URL)
    assert PAYLOAD in request.body


def test_a_signed_event_survives_the_envelope_but_not_zeeps_prefixes(
    nfe: GeneratedDocument, recipient_certificate: IssuedCertificate, ca: CertificateAuthority
) -> None:
    """Why the envelope is ours: zeep's prefixes leak into an lxml-extracted infEvento's C14N."""
    lot = build_env_evento(
        [ManifestacaoEvent(nfe.key, Manifestacao.CIENCIA)],
        cnpj=recipient_certificate.cnpj or "",
        tp_amb=TpAmb.HOMOLOGATION,
        signer=recipient_certificate.signer(),
        id_lote=7,
        when=datetime.now(UTC),
    )
    contract = soap_contract(NFE_RECEPCAO_EVENTO, SoapVersion.SOAP12)
    ours = parse_xml(envelope(contract, lot.xml))
    verify_element(next(ours.iter(f"{{{NFE_NS}}}evento")), ca.trusted)

    client = wsdl._client(NFE_RECEPCAO_EVENTO.file)
    proxy = client.bind(NFE_RECEPCAO_EVENTO.service, NFE_RECEPCAO_EVENTO.port(SoapVersion.SOAP12))
    zeeps = client.create_message(proxy, NFE_RECEPCAO_EVENTO.operation, _value_1=etree.fromstring(lot.xml))
    with pytest.raises(InvalidSignature):
        verify_element(next(zeeps.iter(f"{{{NFE_NS}}}evento")), ca.trusted)


@pytest.mark.parametrize("soap", [SOAP11, SOAP12])
def test_the_payload_is_found_in_either_soap_version(soap: str) -> None:
    payload = read_payload(
        dist_answer(ret_dist_dfe("137", "Nenhum documento localizado"), soap=soap), "retDistDFeInt", URL
    )
    assert payload.findtext(f"{{{NFE_NS}}}cStat") == "137"


@pytest.mark.parametrize("wrapper", ["nfeRecepcaoEventoNFResult", "nfeResultMsg"])
def test_both_event_result_wrappers_are_read(wrapper: str) -> None:
    answer = event_answer(ret_env_evento("1", []), wrapper=wrapper)
    assert read_payload(answer, "retEnvEvento", URL).findtext(f"{{{NFE_NS}}}cStat") == "128"


@pytest.mark.parametrize(
    ("soap", "code", "reason"),
    [
        (SOAP12, "soap:Sender", "Server was unable to read request."),
        (SOAP11, "soap:Client", "Server did not recognize the value of HTTP Header SOAPAction."),
    ],
)
@pytest.mark.parametrize("status", [500, 400, 200])
def test_faults_are_raised_with_code_and_reason(soap: str, code: str, reason: str, status: int) -> None:
    with pytest.raises(SoapFault) as raised:
        read_payload(soap_fault(soap=soap, status=status), "retDistDFeInt", URL)
    assert (raised.value.code, raised.value.reason, raised.value.retryable) == (code, reason, False)


@pytest.mark.parametrize(("status", "retryable"), [(502, True), (503, True), (404, False), (403, False)])
def test_error_pages_raise_http_status_errors(status: int, retryable: bool) -> None:
    page = HttpResponse(
        status, {"content-type": "text/html"}, b"<html><body><h1>Service Unavailable</h1></body></html>"
    )
    with pytest.raises(HttpStatusError, match=f"HTTP {status}") as raised:
        read_payload(page, "retDistDFeInt", URL)
    assert raised.value.retryable is retryable


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty document"),
        (dist_answer(ret_dist_dfe("138", "ok")).body[:-40], "malformed or truncated"),
        (b"<html><body>Manutencao</body></html>", "not a SOAP envelope"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
        (dist_answer(b"<outra xmlns='urn:x'/>").body, "no retDistDFeInt"),
        (b"\x1f\x8b\x08\x00", "gzip"),
    ],
)
def test_unreadable_200_answers_are_malformed_responses(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem):
        read_payload(HttpResponse(200, {}, body), "retDistDFeInt", URL)
