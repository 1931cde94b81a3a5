"""Manifestação do destinatário: the signed ``envEvento`` lot sent to NFeRecepcaoEvento4 at the AN.

Pure functions, no I/O. Each ``infEvento`` is signed with :mod:`fiscal_core.signing` (the Signature
lands as its next sibling inside ``evento``) and the lot is checked against the official schema
before it leaves. Facts: docs/sefaz-protocol.md §4 and §5. The answer is read in
:mod:`fiscal_core.sefaz.evento_result`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Final

from lxml import etree

from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import DocumentModel, normalize_cnpj, parse_access_key
from fiscal_core.sefaz.environments import TpAmb
from fiscal_core.sefaz.schemas import RequestSchema, validate_request
from fiscal_core.sefaz.xmlread import default_nsmap
from fiscal_core.signing import Signer, sign_element

NFE_NS: Final = "http://www.portalfiscal.inf.br/nfe"
VERSION: Final = "1.00"
C_ORGAO_AN: Final = "91"  # the Ambiente Nacional, as sped-nfe, nfelib and real AN answers use
MAX_EVENTS: Final = 20
# SEFAZ stamps in Brasília time; Brazil has had no daylight saving since 2019, so the offset is fixed.
BRASILIA: Final = timezone(timedelta(hours=-3))
_JUSTIFICATION_CHARS: Final = re.compile(r"[ -\u00ff]+")


class Manifestacao(Enum):
    """The four manifestações, as (tpEvento, descEvento exactly as the schema enumerates it)."""

    CONFIRMACAO = ("210200", "Confirmacao da Operacao")
    CIENCIA = ("210210", "Ciencia da Operacao")
    DESCONHECIMENTO = ("210220", "Desconhecimento da Operacao")
    NAO_REALIZADA = ("210240", "Operacao nao Realizada")

    def __init__(self, tp_evento: str, description: str) -> None:
        self.tp_evento = tp_evento
        self.description = description

    @property
    def requires_justification(self) -> bool:
        """Only Operação não Realizada carries (and requires) xJust."""
        return self is Manifestacao.NAO_REALIZADA


@dataclass(frozen=True)
class ManifestacaoEvent:
    """One manifestação of the recipient about the NF-e ``chave``.

    ``n_seq_evento`` is 1 for the first of its type; a conclusive event may be repeated once
    (NT 2020.001 v1.50) with 2. ``justificativa`` (15-255 characters) only for NAO_REALIZADA.
    """

    chave: str
    tipo: Manifestacao
    justificativa: str | None = None
    n_seq_evento: int = 1

    @property
    def event_id(self) -> str:
        """``ID`` + tpEvento + chNFe + nSeqEvento (2 digits): what the signature references."""
        return f"ID{self.tipo.tp_evento}{self.chave}{self.n_seq_evento:02d}"

    @property
    def key(self) -> tuple[str, str, int]:
        """(chNFe, tpEvento, nSeqEvento): how an answer is matched to its event."""
        return self.chave, self.tipo.tp_evento, self.n_seq_evento


@dataclass(frozen=True)
class SignedLot:
    """A signed ``envEvento`` ready to send, with each signed ``evento`` kept for its procEventoNFe."""

    id_lote: str
    xml: bytes
    eventos: dict[tuple[str, str, int], bytes]


def _justification(event: ManifestacaoEvent) -> str | None:
    if not event.tipo.requires_justification:
        if event.justificativa is not None:
            raise InvalidValue("justificativa", f"{event.tipo.description} carries no justification")
        return None
    # Line breaks and tabs are outside the schema's pattern; runs of blanks become one space.
    text = " ".join((event.justificativa or "").split())
    if not 15 <= len(text) <= 255:
        raise InvalidValue(
            "justificativa", f"Operação não Realizada needs 15 to 255 characters, got {len(text)}"
        )
    if not _JUSTIFICATION_CHARS.fullmatch(text):
        raise InvalidValue("justificativa", "only Latin-1 characters are allowed (the schema's [ -ÿ])")
    return text


def _checked(event: ManifestacaoEvent) -> ManifestacaoEvent:
    key = parse_access_key(event.chave, "chave")
    if key.model is not DocumentModel.NFE:
        raise InvalidValue("chave", f"manifestação applies to NF-e (model 55), not to {key.model.label}")
    if not 1 <= event.n_seq_evento <= 99:
        raise InvalidValue("n_seq_evento", f"must be 1 to 99, got {event.n_seq_evento}")
    return ManifestacaoEvent(key.value, event.tipo, _justification(event), event.n_seq_evento)


def dh_evento(moment: datetime) -> str:
    """``AAAA-MM-DDThh:mm:ss-03:00``: ``moment`` (timezone-aware) in Brasília time, whole seconds."""
    if moment.tzinfo is None:
        raise InvalidValue("when", "the event time must be timezone-aware")
    return moment.astimezone(BRASILIA).replace(microsecond=0).isoformat()


def _evento(parent: etree._Element, event: ManifestacaoEvent, author: str, tp_amb: TpAmb, when: str) -> None:
    def add(node: etree._Element, name: str, text: str) -> None:
        etree.SubElement(node, f"{{{NFE_NS}}}{name}").text = text

    evento = etree.SubElement(parent, f"{{{NFE_NS}}}evento", versao=VERSION)
    inf = etree.SubElement(evento, f"{{{NFE_NS}}}infEvento", Id=event.event_id)
    for name, text in (
        ("cOrgao", C_ORGAO_AN),
        ("tpAmb", tp_amb.value),
        ("CNPJ", author),
        ("chNFe", event.chave),
        ("dhEvento", when),
        ("tpEvento", event.tipo.tp_evento),
        ("nSeqEvento", str(event.n_seq_evento)),
        ("verEvento", VERSION),
    ):
        add(inf, name, text)
    detail = etree.SubElement(inf, f"{{{NFE_NS}}}detEvento", versao=VERSION)
    add(detail, "descEvento", event.tipo.description)
    if event.justificativa is not None:
        add(detail, "xJust", event.justificativa)


def build_env_evento(
    events: Sequence[ManifestacaoEvent],
    *,
    cnpj: str,
    tp_amb: TpAmb,
    signer: Signer,
    id_lote: int,
    when: datetime,
) -> SignedLot:
    """Build, sign and schema-check a lot of 1 to 20 manifestações by the recipient ``cnpj``.

    ``signer`` holds the recipient's certificate (same CNPJ base, or SEFAZ answers 631/575).
    ``when`` becomes every event's dhEvento. Raises InvalidValue for bad input, SignatureError when
    signing fails, RequestRejectedLocally when the lot breaks the schema.
    """
    if not 1 <= len(events) <= MAX_EVENTS:
        raise InvalidValue("events", f"a lot holds 1 to {MAX_EVENTS} events, got {len(events)}")
    if not 0 <= id_lote < 10**15:
        raise InvalidValue("id_lote", f"must have at most 15 digits, got {id_lote}")
    checked = [_checked(event) for event in events]
    if len({event.key for event in checked}) != len(checked):
        raise InvalidValue("events", "the same (chave, tipo, nSeqEvento) appears twice in the lot")
    author = normalize_cnpj(cnpj, "cnpj")
    stamp = dh_evento(when)
    root = etree.Element(f"{{{NFE_NS}}}envEvento", nsmap=default_nsmap(NFE_NS), versao=VERSION)
    etree.SubElement(root, f"{{{NFE_NS}}}idLote").text = str(id_lote)
    for event in checked:
        _evento(root, event, author, tp_amb, stamp)
    for event in checked:
        root = sign_element(root, event.event_id, signer)
    validate_request(root, RequestSchema.ENV_EVENTO_MDE)
    signed = {
        event.key: etree.tostring(evento, encoding="UTF-8")
        for event, evento in zip(checked, root.iterchildren(f"{{{NFE_NS}}}evento"), strict=True)
    }
    return SignedLot(id_lote=str(id_lote), xml=etree.tostring(root, encoding="UTF-8"), eventos=signed)
