"""The manifestação do destinatário at the AN: which events are accepted, and what they release.

Each event runs the checks of ``_CHECKS`` in order; the first that fails answers for it. A
registered event becomes a procEventoNFe in the author's NF-e queue, and Ciência, Confirmação or
Operação não Realizada hand the full procNFe to the recipient under a new NSU after
``Policy.release_delay`` (UFs forward the XML to the AN with a lag). Desconhecimento releases
nothing. Deadlines (§4.4, Ajuste SINIEF 44/20) count from the NF-e's emission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import parse_access_key
from local.sefaz.cstat import Code, Rejection
from local.sefaz.distribution import DistributionEngine
from local.sefaz.event_xml import EventAnswer, proc_evento, ret_evento
from local.sefaz.notes import RELEASING_EVENTS, Note
from local.sefaz.queries import PROC_NFE_SCHEMA
from local.sefaz.rules import Policy
from local.sefaz.service import Service

PROC_EVENTO_SCHEMA: Final = "procEventoNFe_v1.00.xsd"


@dataclass(frozen=True)
class EventRule:
    """How the AN treats one tpEvento of the manifestação."""

    description: str  # descEvento / xEvento, as the XSD enumerates it
    max_sequence: int  # NT 2020.001 v1.50: up to two of each conclusive event
    deadline: Callable[[Policy], timedelta]
    conclusive: bool
    needs_justification: bool


EVENT_RULES: Final[Mapping[str, EventRule]] = {
    "210210": EventRule("Ciencia da Operacao", 1, lambda p: p.ciencia_deadline, False, False),
    "210200": EventRule("Confirmacao da Operacao", 2, lambda p: p.conclusive_deadline, True, False),
    "210220": EventRule("Desconhecimento da Operacao", 2, lambda p: p.conclusive_deadline, True, False),
    "210240": EventRule("Operacao nao Realizada", 2, lambda p: p.conclusive_deadline, True, True),
}
CONCLUSIVE_EVENTS: Final = frozenset(code for code, rule in EVENT_RULES.items() if rule.conclusive)


@dataclass(frozen=True)
class EventRequest:
    """One ``evento`` of an envEvento, already read and its signature checked by the XML layer."""

    event_id: str  # infEvento@Id
    key: str
    author: str  # CNPJ or CPF in infEvento
    event_type: str
    sequence: int
    event_at: datetime  # dhEvento
    tp_amb: str
    justification: str | None
    signer_cnpj: str | None  # from the signature's certificate
    signature_problem: str | None  # None when the signature verified
    evento_xml: bytes  # the signed evento, kept whole for the procEventoNFe


@dataclass
class _Event:
    engine: DistributionEngine
    request: EventRequest
    rule: EventRule
    now: datetime
    note: Note | None = None


def _environment(event: _Event) -> Rejection | None:
    if event.request.tp_amb == event.engine.environment:
        return None
    return Code.ENVIRONMENT_MISMATCH, f"tpAmb {event.request.tp_amb}"


def _event_id(event: _Event) -> Rejection | None:
    request = event.request
    expected = f"ID{request.event_type}{request.key}{request.sequence:02d}"
    return None if request.event_id == expected else (Code.EVENT_ID_MISMATCH, f"Id {request.event_id}")


def _signature(event: _Event) -> Rejection | None:
    problem = event.request.signature_problem
    return None if problem is None else (Code.SIGNATURE_MISMATCH, problem)


def _signer(event: _Event) -> Rejection | None:
    signer, author = event.request.signer_cnpj, event.request.author
    if signer is not None and signer[:8] == author[:8]:
        return None
    return Code.SIGNER_CNPJ_BASE, f"event of {author} signed by the certificate of {signer}"


def _known_key(event: _Event) -> Rejection | None:
    try:
        parse_access_key(event.request.key, "chNFe")
    except InvalidValue as exc:
        return Code.KEY_CHECK_DIGIT, str(exc)
    event.note = event.engine.notes.get(event.request.key)
    return None if event.note is not None else (Code.KEY_UNKNOWN, f"{event.request.key} unknown to the AN")


def _author(event: _Event) -> Rejection | None:
    assert event.note is not None  # _known_key ran first
    if event.note.recipient == event.request.author:
        return None
    return Code.AUTHOR_NOT_RECIPIENT, f"{event.request.author} is not the recipient {event.note.recipient}"


def _authorized(event: _Event) -> Rejection | None:
    assert event.note is not None
    if event.note.denied or event.note.cancelled(event.now):
        return Code.NFE_NOT_AUTHORIZED, "the NF-e is denied or cancelled"
    return None


def _dates(event: _Event) -> Rejection | None:
    assert event.note is not None
    moment = event.request.event_at
    if moment > event.now + event.engine.policy.event_clock_skew:
        return Code.EVENT_IN_FUTURE, f"dhEvento {moment.isoformat()} after {event.now.isoformat()}"
    if moment < event.note.issued_at:
        return Code.EVENT_BEFORE_ISSUE, f"dhEvento {moment.isoformat()} before the emission"
    return None


def _justification(event: _Event) -> Rejection | None:
    if event.rule.needs_justification and not event.request.justification:
        return Code.JUSTIFICATION_REQUIRED, f"{event.request.event_type} without xJust"
    return None


def _sequence(event: _Event) -> Rejection | None:
    if event.request.sequence <= event.rule.max_sequence:
        return None
    return Code.SEQUENCE_TOO_HIGH, f"nSeqEvento {event.request.sequence} > {event.rule.max_sequence}"


def _duplicate(event: _Event) -> Rejection | None:
    assert event.note is not None
    if (event.request.event_type, event.request.sequence) in event.note.events:
        return Code.EVENT_DUPLICATE, "already registered"
    return None


def _after_conclusive(event: _Event) -> Rejection | None:
    assert event.note is not None
    if not event.rule.conclusive and event.note.has_event(CONCLUSIVE_EVENTS):
        return Code.CIENCIA_AFTER_CONCLUSIVE, "a conclusive manifestação is registered"
    return None


def _deadline(event: _Event) -> Rejection | None:
    assert event.note is not None
    deadline = event.rule.deadline(event.engine.policy)
    if event.now - event.note.issued_at <= deadline:
        return None
    return Code.EVENT_LATE, f"{event.rule.description} more than {deadline.days} days after the emission"


_CHECKS: Final[tuple[Callable[[_Event], Rejection | None], ...]] = (
    _environment,
    _event_id,
    _signature,
    _signer,
    _known_key,
    _author,
    _authorized,
    _dates,
    _justification,
    _sequence,
    _duplicate,
    _after_conclusive,
    _deadline,
)


def register(engine: DistributionEngine, request: EventRequest) -> EventAnswer:
    """Check and register one manifestação; the answer is what its retEvento says.

    Only tpEvento of :data:`EVENT_RULES` reach here: the envEvento schema admits no other.
    """
    with engine.lock:
        now = engine.clock.now()
        event = _Event(engine, request, EVENT_RULES[request.event_type], now)
        answer = EventAnswer(
            Code.EVENT_REGISTERED,
            now,
            request.key,
            request.event_type,
            event.rule.description,
            request.sequence,
        )
        for check in _CHECKS:
            rejection = check(event)
            if rejection is not None:
                engine.record(Service.NFE_EVENTO, request.author, *rejection)
                return replace(answer, code=rejection[0])
        assert event.note is not None
        registered = replace(answer, protocol=engine.next_protocol(now))
        event.note.events[(request.event_type, request.sequence)] = str(registered.protocol)
        document = proc_evento(request.evento_xml, ret_evento(registered, engine.environment))
        engine.publish(Service.NFE_DIST, request.author, PROC_EVENTO_SCHEMA, document, at=now)
        if request.event_type in RELEASING_EVENTS and not event.note.released:
            event.note.released = True
            release_at = now + engine.policy.release_delay
            engine.publish(
                Service.NFE_DIST, request.author, PROC_NFE_SCHEMA, event.note.proc_xml, at=release_at
            )
        return registered
