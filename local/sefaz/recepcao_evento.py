"""NFeRecepcaoEvento4 at the AN: envEvento with up to 20 manifestações, each answered on its own.

The lot is refused as a whole (no retEvento) when the service is paused or the message fails the
namespace, formatting or schema checks; otherwise it is "128 Lote de evento processado" with one
retEvento per evento, whose cStat comes from :mod:`local.sefaz.manifestacao`. Each signature is
verified with ``fiscal_core.signing`` against the test CA; the schema has already fixed its
algorithms (RSA-SHA1, C14N, two transforms) and its single X509Certificate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from cryptography import x509
from lxml import etree

from fiscal_core.certificates import cnpj_of
from fiscal_core.signing import InvalidSignature, verify_element
from local.fixtures.documents.xmlbuild import NFE_NS, Tree
from local.fixtures.xsd import assert_valid
from local.sefaz.cstat import Code
from local.sefaz.distribution import DistributionEngine
from local.sefaz.event_xml import AMBIENTE_NACIONAL, EventAnswer, ret_evento
from local.sefaz.manifestacao import EventRequest, register
from local.sefaz.payload import message_problem, rerooted
from local.sefaz.service import VER_APLIC, Service
from local.sefaz.soap import MessageHandler, SoapBinding

REQUEST_XSD: Final = "nfe_evento_mde/schemas/v1_0/envConfRecebto_v1.00.xsd"
RESPONSE_XSD: Final = "nfe_evento_mde/schemas/v1_0/retEnvConfRecebto_v1.00.xsd"
_WSDL: Final = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeRecepcaoEvento4"
_NS: Final = {"n": NFE_NS}
_LOT_ID: Final = re.compile(r"[0-9]{1,15}")

# The AN's WSDL names the operation nfeRecepcaoEventoNF; the SVRS one (and sped-nfe, which the AN
# accepts) uses nfeRecepcaoEvento. Each action is answered with its own result element.
BINDING: Final = SoapBinding(
    request_path=(f"{{{_WSDL}}}nfeDadosMsg",),
    responses={
        f"{_WSDL}/nfeRecepcaoEventoNF": (f"{{{_WSDL}}}nfeRecepcaoEventoNFResult",),
        f"{_WSDL}/nfeRecepcaoEvento": (f"{{{_WSDL}}}nfeResultMsg",),
    },
    default_action=f"{_WSDL}/nfeRecepcaoEventoNF",
)


def handler(engine: DistributionEngine, trusted: Sequence[x509.Certificate]) -> MessageHandler:
    """The SOAP message handler of RecepcaoEvento over ``engine``; signatures must chain to ``trusted``."""

    def handle(message: etree._Element | None, certificate_cnpj: str | None) -> etree._Element:
        lot = _lot_id(message)
        paused = engine.paused(Service.NFE_EVENTO)
        if paused is not None:
            return _ret_env_evento(engine, lot, paused, [])
        problem = message_problem(message, REQUEST_XSD)
        if problem is not None or message is None:
            code, detail = problem or (Code.SCHEMA_INVALID, "no message")
            engine.record(Service.NFE_EVENTO, certificate_cnpj or "", code, detail)
            return _ret_env_evento(engine, lot, code, [])
        now = engine.clock.now()
        answers = [
            register(engine, _read(evento, trusted, now)) for evento in message.iterfind("n:evento", _NS)
        ]
        return _ret_env_evento(engine, lot, Code.BATCH_PROCESSED, answers)

    return handle


def _lot_id(message: etree._Element | None) -> str:
    """The idLote to echo; "0" when the lot carries none the answer's schema would accept."""
    lot = "" if message is None else message.findtext("n:idLote", namespaces=_NS) or ""
    return lot if _LOT_ID.fullmatch(lot) else "0"


def _read(evento: etree._Element, trusted: Sequence[x509.Certificate], now: datetime) -> EventRequest:
    """An EventRequest from a schema-valid evento, with the verdict on its signature."""
    inf = evento.find("n:infEvento", _NS)
    assert inf is not None  # the schema requires it

    def text(tag: str) -> str:
        return inf.findtext(f"n:{tag}", namespaces=_NS) or ""

    signer, problem = _signer(evento, trusted, now)
    return EventRequest(
        event_id=inf.get("Id", ""),
        key=text("chNFe"),
        author=text("CNPJ") or text("CPF"),
        event_type=text("tpEvento"),
        sequence=int(text("nSeqEvento")),
        event_at=datetime.fromisoformat(text("dhEvento")),
        tp_amb=text("tpAmb"),
        justification=inf.findtext("n:detEvento/n:xJust", namespaces=_NS),
        signer_cnpj=signer,
        signature_problem=problem,
        evento_xml=etree.tostring(evento),
    )


def _signer(
    evento: etree._Element, trusted: Sequence[x509.Certificate], now: datetime
) -> tuple[str | None, str | None]:
    """(CNPJ of the signing certificate, None) when the signature verifies, else (None, why not)."""
    try:
        verified = verify_element(rerooted(evento), trusted, at=now)
    except InvalidSignature as exc:
        return None, str(exc)
    return cnpj_of(verified.certificate), None


def _ret_env_evento(
    engine: DistributionEngine, lot: str, code: Code, answers: list[EventAnswer]
) -> etree._Element:
    tree = Tree(NFE_NS)
    ret = tree.fields(
        tree.root("retEnvEvento", versao="1.00"),
        [
            ("idLote", lot),
            ("tpAmb", engine.environment),
            ("verAplic", VER_APLIC),
            ("cOrgao", AMBIENTE_NACIONAL),
            ("cStat", code.cstat),
            ("xMotivo", code.xmotivo),
        ],
    )
    for answer in answers:
        ret.append(ret_evento(answer, engine.environment))
    assert_valid(ret, RESPONSE_XSD)  # never teach a client a response outside the schema
    return ret
