"""Realistic SEFAZ and ADN answers, built the way the servers write them, for the parsing tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from fiscal_core.doczip import encode_doczip
from fiscal_core.sefaz.transport import HttpResponse

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
CTE_NS = "http://www.portalfiscal.inf.br/cte"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
DIST_WSDL = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeDistribuicaoDFe"
CTE_WSDL = "http://www.portalfiscal.inf.br/cte/wsdl/CTeDistribuicaoDFe"
EVENT_WSDL = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeRecepcaoEvento4"
DH = "2026-03-10T10:00:00-03:00"


def find(element: etree._Element, path: str) -> etree._Element:
    """``element.find(path)``, failing the test when nothing is there."""
    found = element.find(path)
    assert found is not None, f"{path} not found"
    return found


def text(element: etree._Element, path: str) -> str:
    """The text at ``path``, failing the test when it is absent."""
    return find(element, path).text or ""


@dataclass(frozen=True)
class Doc:
    """One docZip to put in a lot: NSU (None to omit the attribute), schema name, document bytes."""

    nsu: str | None
    schema: str
    xml: bytes


def ret_dist_dfe(
    cstat: str,
    xmotivo: str,
    *,
    ult_nsu: str | None = "000000000000000",
    max_nsu: str | None = "000000000000000",
    docs: Sequence[Doc] = (),
    namespace: str = NFE_NS,
    tp_amb: str = "2",
) -> bytes:
    """A retDistDFeInt (1.01 for NF-e, 1.00 for CT-e) as the AN writes it."""
    version = "1.01" if namespace == NFE_NS else "1.00"
    parts = [
        f'<retDistDFeInt xmlns="{namespace}" versao="{version}"><tpAmb>{tp_amb}</tpAmb>',
        f"<verAplic>1.7.6</verAplic><cStat>{cstat}</cStat><xMotivo>{xmotivo}</xMotivo><dhResp>{DH}</dhResp>",
    ]
    if ult_nsu is not None:
        parts.append(f"<ultNSU>{ult_nsu}</ultNSU>")
    if max_nsu is not None:
        parts.append(f"<maxNSU>{max_nsu}</maxNSU>")
    if docs:
        parts.append("<loteDistDFeInt>")
        for doc in docs:
            nsu = "" if doc.nsu is None else f' NSU="{doc.nsu}"'
            parts.append(f'<docZip{nsu} schema="{doc.schema}">{encode_doczip(doc.xml)}</docZip>')
        parts.append("</loteDistDFeInt>")
    parts.append("</retDistDFeInt>")
    return "".join(parts).encode()


def soap_envelope(
    payload: bytes, wrappers: Sequence[tuple[str, str]], *, soap: str = SOAP12, prefixed: bool = True
) -> bytes:
    """``payload`` inside the Body, under ``wrappers`` ((namespace, name) outermost first).

    ``prefixed`` writes the envelope as ASP.NET does (``soap:`` prefix, xsi and xsd declared).
    """
    if prefixed:
        head = (
            f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{soap}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        )
        tail = "</soap:Body></soap:Envelope>"
    else:
        head, tail = f'<Envelope xmlns="{soap}"><Body>', "</Body></Envelope>"
    opening = "".join(f'<{name} xmlns="{ns}">' for ns, name in wrappers)
    closing = "".join(f"</{name}>" for _, name in reversed(wrappers))
    return (head + opening).encode() + payload + (closing + tail).encode()


def dist_answer(
    payload: bytes, *, soap: str = SOAP12, wsdl_ns: str = DIST_WSDL, status: int = 200
) -> HttpResponse:
    """An HTTP answer of the distribution service wrapping ``payload`` as the WSDL says."""
    operation = "cteDistDFeInteresse" if wsdl_ns == CTE_WSDL else "nfeDistDFeInteresse"
    wrappers = [(wsdl_ns, f"{operation}Response"), (wsdl_ns, f"{operation}Result")]
    content_type = "application/soap+xml" if soap == SOAP12 else "text/xml"
    return HttpResponse(
        status,
        {"content-type": f"{content_type}; charset=utf-8"},
        soap_envelope(payload, wrappers, soap=soap),
    )


def soap_fault(*, soap: str = SOAP12, status: int = 500) -> HttpResponse:
    """A SOAP Fault as ASP.NET writes it for an envelope it cannot process."""
    if soap == SOAP12:
        fault = (
            f'<soap:Fault xmlns:soap="{SOAP12}"><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>'
            '<soap:Reason><soap:Text xml:lang="en">Server was unable to read request.</soap:Text>'
            "</soap:Reason></soap:Fault>"
        )
    else:
        fault = (
            f'<soap:Fault xmlns:soap="{SOAP11}"><faultcode>soap:Client</faultcode>'
            "<faultstring>Server did not recognize the value of HTTP Header SOAPAction.</faultstring>"
            "</soap:Fault>"
        )
    return HttpResponse(status, {}, soap_envelope(fault.encode(), [], soap=soap))


def ret_env_evento(
    id_lote: str,
    events: Sequence[tuple[str, str, str, str, int]],
    *,
    cstat: str = "128",
    xmotivo: str = "Lote de evento processado",
    tp_amb: str = "2",
) -> bytes:
    """A retEnvEvento; ``events`` are (cStat, xMotivo, chNFe, tpEvento, nSeqEvento)."""
    rets = "".join(
        f'<retEvento versao="1.00"><infEvento><tpAmb>{tp_amb}</tpAmb><verAplic>AN_1.5.0</verAplic>'
        f"<cOrgao>91</cOrgao><cStat>{code}</cStat><xMotivo>{text}</xMotivo><chNFe>{key}</chNFe>"
        f"<tpEvento>{tp}</tpEvento><xEvento>Ciencia da Operacao</xEvento><nSeqEvento>{seq}</nSeqEvento>"
        f"<dhRegEvento>{DH}</dhRegEvento>"
        + ("<nProt>891260000012345</nProt>" if code in {"135", "136"} else "")
        + "</infEvento></retEvento>"
        for code, text, key, tp, seq in events
    )
    return (
        f'<retEnvEvento xmlns="{NFE_NS}" versao="1.00"><idLote>{id_lote}</idLote><tpAmb>{tp_amb}</tpAmb>'
        f"<verAplic>AN_1.5.0</verAplic><cOrgao>91</cOrgao><cStat>{cstat}</cStat><xMotivo>{xmotivo}</xMotivo>"
        f"{rets}</retEnvEvento>"
    ).encode()


def event_answer(
    payload: bytes, *, wrapper: str = "nfeRecepcaoEventoNFResult", soap: str = SOAP12
) -> HttpResponse:
    """The AN's answer to a lot: ``nfeRecepcaoEventoNFResult`` (AN) or ``nfeResultMsg`` (SVRS WSDL)."""
    return HttpResponse(200, {}, soap_envelope(payload, [(EVENT_WSDL, wrapper)], soap=soap))


def adn_answer(status: int, envelope: dict[str, object]) -> HttpResponse:
    """An ADN JSON answer."""
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(envelope).encode())


def adn_item(
    nsu: int, xml: bytes, *, tipo: str = "NFSE", chave: str = "3550308" + "2" * 43
) -> dict[str, object]:
    """One LoteDFe item as the Swagger describes it."""
    return {
        "NSU": nsu,
        "ChaveAcesso": chave,
        "TipoDocumento": tipo,
        "ArquivoXml": encode_doczip(xml),
        "DataHoraGeracao": "2026-03-10T10:00:00",
    }
