"""Seeding: a realistic, deterministic stream of documents for one company, arriving over time.

Each "story" is one business document and what the AN hands the company about it, in order:
a resNFe and nothing more yet; a resNFe, the company's own Ciência and then the procNFe; a resNFe
then the issuer's cancellation or CC-e; a resNFe then an MDF-e registration (resEvento 610610); a
full procNFe the company receives as carrier or autXML; a CT-e. Stories start at random moments of
``[since, until]`` on the simulator's clock, so documents keep arriving while a client syncs.
Notes the company issued itself are registered at the AN but never distributed to it (641).

The same ``seed`` and ``since``/``until`` give the same stories, keys and arrival order; signatures
differ between processes because the test CA's keys do.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Final

from local.fixtures.documents import (
    Company,
    EventType,
    GeneratedDocument,
    nfe_event,
    nfse,
    proc_cte,
    proc_nfe,
    res_nfe,
)
from local.fixtures.documents.xmlbuild import BRASILIA, NFE_NS, Tree, protocol_number, serialize, timestamp
from local.fixtures.identities import cnpj_for
from local.sefaz.distribution import DistributionEngine
from local.sefaz.service import Service


class Story(Enum):
    """What happens to one document addressed to (or carried by) the company."""

    SUMMARY = "resNFe, not manifested"
    MANIFESTED = "resNFe, Ciência, procNFe"
    CANCELLED = "resNFe, cancellation 110111"
    CORRECTED = "resNFe, CC-e 110110"
    MDFE_EVENT = "resNFe, MDF-e registration resEvento 610610"
    CARRIED = "procNFe as carrier or autXML"
    CTE = "procCTe"


DEFAULT_MIX: Final[Mapping[Story, int]] = {
    Story.SUMMARY: 40,
    Story.MANIFESTED: 12,
    Story.CANCELLED: 6,
    Story.CORRECTED: 8,
    Story.MDFE_EVENT: 8,
    Story.CARRIED: 6,
    Story.CTE: 20,
}
DEFAULT_WINDOW: Final = timedelta(days=7)
_UFS: Final = ("SP", "PR", "MG", "RJ", "RS", "SC", "GO", "BA", "PE", "ES")
_PARTNERS: Final = 12
_SCHEMAS: Final[Mapping[str, str]] = {
    "procNFe": "procNFe_v4.00.xsd",
    "resNFe": "resNFe_v1.01.xsd",
    "resEvento": "resEvento_v1.01.xsd",
    "procEventoNFe": "procEventoNFe_v1.00.xsd",
    "procCTe": "procCTe_v4.00.xsd",
    "NFSe": "NFSe_v1.01.xsd",
}


@dataclass
class SeededCompany:
    """What was seeded: access keys per story, and how many documents each queue received."""

    company: Company
    keys: dict[Story, list[str]] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # the company's own notes: consChNFe gives 641
    nfse: list[str] = field(default_factory=list)
    queued: Counter[tuple[Service, str]] = field(default_factory=Counter)  # (service, schema) -> count

    @property
    def cnpj(self) -> str:
        """The company's CNPJ."""
        return self.company.cnpj

    def total(self, service: Service) -> int:
        """How many documents ``service`` will hand the company once all have arrived."""
        return sum(count for (queued_on, _), count in self.queued.items() if queued_on is service)


def seed_company(
    engine: DistributionEngine,
    cnpj: str,
    *,
    documents: int = 100,
    nfse_documents: int = 0,
    issued: int = 0,
    name: str = "EMPRESA TESTE LTDA",
    since: datetime | None = None,
    until: datetime | None = None,
    seed: int = 0,
    mix: Mapping[Story, int] = DEFAULT_MIX,
) -> SeededCompany:
    """Seed ``documents`` stories (NF-e and CT-e queues), ``nfse_documents`` NFS-e (ADN queue) and
    ``issued`` notes of the company's own for ``cnpj``, starting over ``[since, until]``.

    The default window is the last 7 days up to now on the engine's clock: recent enough that a
    client may still send Ciência for every note (10 days, :class:`~local.sefaz.rules.Policy`).
    """
    now = engine.clock.now()
    start, end = since or now - DEFAULT_WINDOW, until or now
    if end < start:
        raise ValueError(f"the seeding window ends ({end}) before it starts ({start})")
    seeder = _Seeder(engine, Company(cnpj, name), random.Random(f"{seed}:{cnpj}"), start, end)  # noqa: S311
    kinds, weights = zip(*mix.items(), strict=True)
    for story in seeder.rng.choices(kinds, weights, k=documents):
        moment = seeder.moment()
        key = _STORIES[story](seeder, moment)
        seeder.result.keys.setdefault(story, []).append(key)
    for index in range(nfse_documents):
        seeder.service_note(seeder.moment(), provided=index % 2 == 0)
    for _ in range(issued):
        seeder.issued(seeder.moment())
    return seeder.result


@dataclass
class _Seeder:
    engine: DistributionEngine
    company: Company
    rng: random.Random
    start: datetime
    end: datetime
    result: SeededCompany = field(init=False)
    numbers: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.result = SeededCompany(self.company)

    def moment(self) -> datetime:
        """A random instant of the window, in Brasília time as the documents carry it."""
        span = (self.end - self.start).total_seconds()
        return (self.start + timedelta(seconds=self.rng.uniform(0, span))).astimezone(BRASILIA)

    def partner(self) -> Company:
        """One of a dozen suppliers, customers and carriers, each in its own UF."""
        index = self.rng.randrange(_PARTNERS)
        return Company(
            cnpj_for(f"parceiro {index}"), f"PARCEIRO {index:02d} LTDA", uf=_UFS[index % len(_UFS)]
        )

    def number(self, issuer: Company) -> int:
        self.numbers[issuer.cnpj] += 1
        return self.numbers[issuer.cnpj]

    def note(
        self, issuer: Company, recipient: Company, moment: datetime, events: tuple[tuple[str, int], ...] = ()
    ) -> GeneratedDocument:
        """An NF-e authorised a few minutes before ``moment``, known to the AN with ``events``."""
        issued_at = (moment - timedelta(minutes=self.rng.randint(1, 90))).replace(microsecond=0)
        total = Decimal(self.rng.randint(5_000, 5_000_000)) / 100
        document = proc_nfe(
            issuer,
            recipient,
            number=self.number(issuer),
            issued_at=issued_at,
            total=total,
            environment=self.engine.environment,
        )
        self.engine.register_note(document.xml, events=events)
        return document

    def queue(self, service: Service, kind: str, xml: bytes, at: datetime) -> None:
        """Schedule ``xml`` for the company and count it."""
        schema = _SCHEMAS[kind]
        self.engine.publish(service, self.company.cnpj, schema, xml, at=at)
        self.result.queued[(service, schema)] += 1

    def summary(self, moment: datetime, events: tuple[tuple[str, int], ...] = ()) -> GeneratedDocument:
        """A supplier's NF-e to the company, whose resNFe arrives at ``moment``."""
        note = self.note(self.partner(), self.company, moment, events)
        self.queue(Service.NFE_DIST, "resNFe", res_nfe(note).xml, moment)
        return note

    def event(self, note: GeneratedDocument, event: EventType, at: datetime) -> None:
        """The procEventoNFe of ``event`` on ``note``, registered at ``at``, arriving just after."""
        document = nfe_event(note, event, at=at.replace(microsecond=0))
        self.queue(Service.NFE_DIST, "procEventoNFe", document.xml, at + timedelta(seconds=30))

    def service_note(self, moment: datetime, *, provided: bool) -> None:
        partner = self.partner()
        provider, taker = (self.company, partner) if provided else (partner, self.company)
        document = nfse(
            provider,
            taker,
            number=self.number(provider),
            issued_at=moment.replace(microsecond=0) - timedelta(minutes=5),
            total=Decimal(self.rng.randint(10_000, 2_000_000)) / 100,
            environment=self.engine.environment,
        )
        self.queue(Service.ADN_DIST, "NFSe", document.xml, moment)
        self.result.nfse.append(document.key)

    def issued(self, moment: datetime) -> None:
        self.result.issued.append(self.note(self.company, self.partner(), moment).key)


def _summary(seeder: _Seeder, moment: datetime) -> str:
    return seeder.summary(moment).key


def _manifested(seeder: _Seeder, moment: datetime) -> str:
    # The Ciência was registered when the story happened, so the AN already counts it.
    note = seeder.summary(moment, events=((EventType.CIENCIA_OPERACAO.value, 1),))
    ciencia = moment + timedelta(hours=seeder.rng.randint(1, 24))
    seeder.event(note, EventType.CIENCIA_OPERACAO, ciencia)
    seeder.queue(
        Service.NFE_DIST, "procNFe", note.xml, ciencia + timedelta(minutes=seeder.rng.randint(5, 120))
    )
    return note.key


def _event_after(event: EventType, hours: tuple[int, int]) -> Callable[[_Seeder, datetime], str]:
    def story(seeder: _Seeder, moment: datetime) -> str:
        note = seeder.summary(moment)
        seeder.event(note, event, moment + timedelta(hours=seeder.rng.randint(*hours)))
        return note.key

    return story


def _mdfe_event(seeder: _Seeder, moment: datetime) -> str:
    note = seeder.summary(moment)
    at = (moment + timedelta(hours=seeder.rng.randint(2, 48))).replace(microsecond=0)
    carrier = seeder.partner()
    seeder.queue(Service.NFE_DIST, "resEvento", mdfe_registration(note.key, carrier, at), at)
    return note.key


def _carried(seeder: _Seeder, moment: datetime) -> str:
    note = seeder.note(seeder.partner(), seeder.partner(), moment)
    seeder.queue(Service.NFE_DIST, "procNFe", note.xml, moment)
    return note.key


def _cte(seeder: _Seeder, moment: datetime) -> str:
    carrier, sender = seeder.partner(), seeder.partner()
    document = proc_cte(
        carrier,
        sender,
        seeder.company,
        number=seeder.number(carrier),
        issued_at=(moment - timedelta(minutes=10)).replace(microsecond=0),
        total=Decimal(seeder.rng.randint(20_000, 900_000)) / 100,
        environment=seeder.engine.environment,
    )
    seeder.queue(Service.CTE_DIST, "procCTe", document.xml, moment)
    return document.key


_STORIES: Final[Mapping[Story, Callable[[_Seeder, datetime], str]]] = {
    Story.SUMMARY: _summary,
    Story.MANIFESTED: _manifested,
    Story.CANCELLED: _event_after(EventType.CANCELAMENTO, (1, 20)),
    Story.CORRECTED: _event_after(EventType.CARTA_CORRECAO, (2, 72)),
    Story.MDFE_EVENT: _mdfe_event,
    Story.CARRIED: _carried,
    Story.CTE: _cte,
}


def mdfe_registration(key: str, carrier: Company, at: datetime) -> bytes:
    """A resEvento 610610 "MDF-e Autorizado" on the NF-e ``key``: how the destinatário learns that
    a carrier's MDF-e lists its goods (the factory builds no MDF-e events on NF-e)."""
    received = at + timedelta(seconds=2)
    tree = Tree(NFE_NS)
    summary = tree.fields(
        tree.root("resEvento", versao="1.01"),
        [
            ("cOrgao", "91"),
            ("CNPJ", carrier.cnpj),
            ("chNFe", key),
            ("dhEvento", timestamp(at.astimezone(BRASILIA))),
            ("tpEvento", "610610"),
            ("nSeqEvento", "1"),
            ("xEvento", "MDF-e Autorizado"),
            ("dhRecbto", timestamp(received.astimezone(BRASILIA))),
            ("nProt", protocol_number("891", received, f"MDF-e {key}")),
        ],
    )
    return serialize(summary)
