"""The AN's answer to a lot of manifestações, and the ``procEventoNFe`` kept for each registered one.

``retEnvEvento`` carries the lot's cStat (128 when processed) and one ``retEvento`` per event, in
any order; each is matched to the event sent by (chNFe, tpEvento, nSeqEvento). A registered event
(135/136) is stored as ``procEventoNFe``: the signed ``evento`` as sent plus the AN's ``retEvento``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from fiscal_core.sefaz.cstat import EVENT_LOT_RULES, EVENT_RULES, Category, Outcome, classify
from fiscal_core.sefaz.errors import MalformedResponse
from fiscal_core.sefaz.evento import NFE_NS, VERSION, SignedLot
from fiscal_core.sefaz.xmlread import (
    child,
    children,
    default_nsmap,
    optional_text,
    require_namespace,
    required_text,
)
from fiscal_core.xmlsafe import parse_xml


@dataclass(frozen=True)
class EventResult:
    """The AN's verdict on one event; ``proc_evento`` is the procEventoNFe when it was registered."""

    chave: str | None
    tp_evento: str | None
    n_seq_evento: int | None
    outcome: Outcome
    protocol: str | None
    registered_at: datetime | None
    ret_evento: bytes
    proc_evento: bytes | None


@dataclass(frozen=True)
class EventLotResult:
    """A ``retEnvEvento``: the lot's outcome (128 = processed) and one result per event answered."""

    id_lote: str
    tp_amb: str
    ver_aplic: str
    outcome: Outcome
    events: tuple[EventResult, ...]


def parse_ret_env_evento(payload: etree._Element, lot: SignedLot) -> EventLotResult:
    """Read a ``retEnvEvento`` answering ``lot``; MalformedResponse says what is wrong.

    A lot-level rejection (anything but 128) comes back with no event results.
    """
    require_namespace(payload, NFE_NS)
    outcome = classify(EVENT_LOT_RULES, required_text(payload, "cStat"), required_text(payload, "xMotivo"))
    id_lote = optional_text(payload, "idLote") or ""
    # A rejected lot may come back as idLote 0; a processed one must be ours.
    if outcome.ok and id_lote.lstrip("0") != lot.id_lote.lstrip("0"):
        raise MalformedResponse(f"retEnvEvento answers lot {id_lote!r}, but lot {lot.id_lote} was sent")
    single = next(iter(lot.eventos.values())) if len(lot.eventos) == 1 else None
    return EventLotResult(
        id_lote=lot.id_lote,
        tp_amb=required_text(payload, "tpAmb"),
        ver_aplic=required_text(payload, "verAplic"),
        outcome=outcome,
        events=tuple(_event(node, lot, single) for node in children(payload, "retEvento")),
    )


def _event(ret_evento: etree._Element, lot: SignedLot, single: bytes | None) -> EventResult:
    inf = child(ret_evento, "infEvento")
    if inf is None:
        raise MalformedResponse("retEvento has no infEvento")
    outcome = classify(EVENT_RULES, required_text(inf, "cStat"), required_text(inf, "xMotivo"))
    chave, tp_evento, seq = optional_text(inf, "chNFe"), optional_text(inf, "tpEvento"), _seq(inf)
    sent = lot.eventos.get((chave or "", tp_evento or "", seq or 0))
    # An answer that omits the key fields can only be matched when the lot held one event.
    evento = sent if sent is not None else (single if chave is None else None)
    registered = outcome.category is Category.REGISTERED
    # A copy carries only the namespaces it uses, not the SOAP envelope's around it.
    standalone = copy.deepcopy(ret_evento)
    if registered and evento is None:
        raise MalformedResponse(
            f"the AN registered an event ({chave} {tp_evento} seq {seq}) that this lot did not send"
        )
    return EventResult(
        chave=chave,
        tp_evento=tp_evento,
        n_seq_evento=seq,
        outcome=outcome,
        protocol=optional_text(inf, "nProt"),
        registered_at=_registered_at(inf),
        ret_evento=etree.tostring(standalone, encoding="UTF-8"),
        proc_evento=proc_evento_nfe(evento, standalone) if registered and evento is not None else None,
    )


def _seq(inf: etree._Element) -> int | None:
    text = optional_text(inf, "nSeqEvento")
    if text is None:
        return None
    if not text.isdigit():
        raise MalformedResponse(f"retEvento nSeqEvento {text!r} is not a number")
    return int(text)


def _registered_at(inf: etree._Element) -> datetime | None:
    text = optional_text(inf, "dhRegEvento")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedResponse(f"retEvento dhRegEvento {text!r} is not a date and time") from None


def proc_evento_nfe(evento: bytes, ret_evento: etree._Element) -> bytes:
    """``procEventoNFe`` versao 1.00: the signed ``evento`` exactly as sent, then ``retEvento``."""
    root = etree.Element(f"{{{NFE_NS}}}procEventoNFe", nsmap=default_nsmap(NFE_NS), versao=VERSION)
    root.append(parse_xml(evento))
    root.append(copy.deepcopy(ret_evento))
    return etree.tostring(root, encoding="UTF-8")
