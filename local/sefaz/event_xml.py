"""The XML of a registered event: retEvento (in retEnvEvento and procEventoNFe) and procEventoNFe.

Both the RecepcaoEvento answer and the procEventoNFe the author later downloads carry the same
retEvento, so it is built in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lxml import etree

from fiscal_core.xmlsafe import parse_xml
from local.fixtures.documents.xmlbuild import BRASILIA, NFE_NS, Tree, serialize, timestamp
from local.sefaz.cstat import Code
from local.sefaz.service import VER_APLIC

AMBIENTE_NACIONAL: Final = "91"


@dataclass(frozen=True)
class EventAnswer:
    """What retEvento says about one event; fields the request did not carry stay None."""

    code: Code
    registered_at: datetime
    key: str | None = None
    event_type: str | None = None
    description: str | None = None
    sequence: int | None = None
    protocol: str | None = None


def ret_evento(answer: EventAnswer, environment: str) -> etree._Element:
    """A ``retEvento versao="1.00"`` for ``answer``; dhRegEvento in Brasília time as the XSD wants."""
    tree = Tree(NFE_NS)
    ret = tree.root("retEvento", versao="1.00")
    attributes = {"Id": f"ID{answer.protocol}"} if answer.protocol else {}
    tree.group(
        ret,
        "infEvento",
        [
            ("tpAmb", environment),
            ("verAplic", VER_APLIC),
            ("cOrgao", AMBIENTE_NACIONAL),
            ("cStat", answer.code.cstat),
            ("xMotivo", answer.code.xmotivo),
            ("chNFe", answer.key),
            ("tpEvento", answer.event_type),
            ("xEvento", answer.description),
            ("nSeqEvento", None if answer.sequence is None else str(answer.sequence)),
            ("dhRegEvento", timestamp(answer.registered_at.astimezone(BRASILIA))),
            ("nProt", answer.protocol),
        ],
        **attributes,
    )
    return ret


def proc_evento(evento_xml: bytes, ret: etree._Element) -> bytes:
    """``procEventoNFe``: the signed evento exactly as received, then its retEvento."""
    tree = Tree(NFE_NS)
    proc = tree.root("procEventoNFe", versao="1.00")
    # Parsed from the bytes the author signed, so its canonical form (and signature) is unchanged.
    proc.append(parse_xml(evento_xml))
    proc.append(ret)
    return serialize(proc)
