"""Request messages as a client would send them: distDFeInt, signed envEvento, SOAP envelopes.

Test helpers only; the production SOAP clients live elsewhere. Shared by the unit tests and the
HTTPS integration tests of the simulator.
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from fiscal_core.signing import Signer, sign_element
from local.fixtures.documents.xmlbuild import BRASILIA, CTE_NS, NFE_NS, timestamp

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NFE_DIST_WSDL = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeDistribuicaoDFe"
CTE_DIST_WSDL = "http://www.portalfiscal.inf.br/cte/wsdl/CTeDistribuicaoDFe"
EVENTO_WSDL = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeRecepcaoEvento4"
NFE_DIST_PATH = "/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx"
CTE_DIST_PATH = "/CTeDistribuicaoDFe/CTeDistribuicaoDFe.asmx"
EVENTO_PATH = "/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx"
NFE_DIST_ACTION = f"{NFE_DIST_WSDL}/nfeDistDFeInteresse"
CTE_DIST_ACTION = f"{CTE_DIST_WSDL}/cteDistDFeInteresse"
EVENTO_ACTION = f"{EVENTO_WSDL}/nfeRecepcaoEventoNF"
DESCRIPTIONS = {
    "210200": "Confirmacao da Operacao",
    "210210": "Ciencia da Operacao",
    "210220": "Desconhecimento da Operacao",
    "210240": "Operacao nao Realizada",
}


def dist_dfe(cnpj: str, query: str, *, tp_amb: str = "2") -> str:
    """A distDFeInt 1.01 (NF-e) around ``query``, e.g. :func:`dist_nsu`."""
    return (
        f'<distDFeInt xmlns="{NFE_NS}" versao="1.01"><tpAmb>{tp_amb}</tpAmb><cUFAutor>35</cUFAutor>'
        f"<CNPJ>{cnpj}</CNPJ>{query}</distDFeInt>"
    )


def cte_dist_dfe(cnpj: str, query: str) -> str:
    """A distDFeInt 1.00 (CT-e): cUFAutor is mandatory there."""
    return (
        f'<distDFeInt xmlns="{CTE_NS}" versao="1.00"><tpAmb>2</tpAmb><cUFAutor>35</cUFAutor>'
        f"<CNPJ>{cnpj}</CNPJ>{query}</distDFeInt>"
    )


def dist_nsu(ult_nsu: int) -> str:
    return f"<distNSU><ultNSU>{ult_nsu:015d}</ultNSU></distNSU>"


def cons_nsu(nsu: int) -> str:
    return f"<consNSU><NSU>{nsu:015d}</NSU></consNSU>"


def cons_ch_nfe(key: str) -> str:
    return f"<consChNFe><chNFe>{key}</chNFe></consChNFe>"


def soap(
    message: str,
    *,
    version: str = "1.1",
    wsdl: str = NFE_DIST_WSDL,
    operation: str | None = "nfeDistDFeInteresse",
    holder: str = "nfeDadosMsg",
) -> bytes:
    """``message`` in a SOAP envelope: ``<operation><holder>message</holder></operation>`` in Body
    (no operation element when ``operation`` is None, as RecepcaoEvento wants)."""
    envelope_ns = SOAP11 if version == "1.1" else SOAP12
    inner = f'<{holder} xmlns="{wsdl}">{message}</{holder}>'
    if operation is not None:
        inner = f'<{operation} xmlns="{wsdl}">{inner}</{operation}>'
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{envelope_ns}">'
        f"<soap:Body>{inner}</soap:Body></soap:Envelope>"
    ).encode()


def headers(action: str | None, *, version: str = "1.1") -> dict[str, str]:
    """The HTTP headers of a SOAP 1.1 (SOAPAction) or 1.2 (action parameter) request."""
    if version == "1.1":
        return {
            "content-type": "text/xml; charset=utf-8",
            **({"soapaction": f'"{action}"'} if action else {}),
        }
    parameter = f'; action="{action}"' if action else ""
    return {"content-type": f"application/soap+xml; charset=utf-8{parameter}"}


def signed_evento(
    key: str,
    cnpj: str,
    signer: Signer,
    *,
    event_type: str = "210210",
    sequence: int = 1,
    at: datetime,
    justification: str | None = None,
) -> bytes:
    """An evento of the manifestação, signed like SEFAZ wants it (fiscal_core.signing)."""
    event_id = f"ID{event_type}{key}{sequence:02d}"
    details = f"<descEvento>{DESCRIPTIONS[event_type]}</descEvento>"
    if justification is not None:
        details += f"<xJust>{justification}</xJust>"
    evento = (
        f'<evento xmlns="{NFE_NS}" versao="1.00"><infEvento Id="{event_id}"><cOrgao>91</cOrgao>'
        f"<tpAmb>2</tpAmb><CNPJ>{cnpj}</CNPJ><chNFe>{key}</chNFe>"
        f"<dhEvento>{timestamp(at.astimezone(BRASILIA))}</dhEvento><tpEvento>{event_type}</tpEvento>"
        f'<nSeqEvento>{sequence}</nSeqEvento><verEvento>1.00</verEvento><detEvento versao="1.00">'
        f"{details}</detEvento></infEvento></evento>"
    )
    return etree.tostring(sign_element(etree.fromstring(evento), event_id, signer))


def env_evento(*eventos: bytes, lot: str = "1") -> str:
    """An envEvento lot holding ``eventos``."""
    body = b"".join(eventos).decode()
    return f'<envEvento xmlns="{NFE_NS}" versao="1.00"><idLote>{lot}</idLote>{body}</envEvento>'


def evento_soap(lot: str, *, version: str = "1.1") -> bytes:
    """An envEvento in the RecepcaoEvento envelope: nfeDadosMsg directly in Body."""
    return soap(lot, version=version, wsdl=EVENTO_WSDL, operation=None)
