"""In-memory stand-ins for SEFAZ, the ADN and the certificate store, for the sync's unit tests.

:class:`FakeDistribution` keeps a queue of docZips by NSU and answers distNSU as the AN does (50
per page, 137 when nothing is left, caught up when ultNSU reaches maxNSU); it also checks the rule
the real one punishes with 656: after the first answer, only the ultNSU it last returned may be
sent. Scripted answers can be queued to play any cStat.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from fiscal_core.certificates import load_pfx
from fiscal_core.sefaz.cstat import DISTRIBUTION_RULES, EVENT_LOT_RULES, EVENT_RULES, classify
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult, EventResult
from fiscal_core.sefaz.tls import ClientIdentity, TlsSettings
from fiscal_core.sefaz.transport import HttpsTransport
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.records import Family
from fiscal_core.sync.answer import Answer, DocZip
from fiscal_core.sync.continuation import continuation_name
from fiscal_core.sync.contract import SyncState
from fiscal_core.sync.credentials import AgentBooks, Credentials
from fiscal_core.sync.errors import CredentialProblem
from fiscal_core.sync.sources import DistributionSource
from local.fixtures.certificates import company_certificate, default_ca

PAGE = 50


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def nsu(value: int) -> str:
    return f"{value:015d}"


@dataclass
class FakeDistribution:
    """distNSU over a queue; ``scripted`` answers (built by ``answer``) are served first."""

    clock: Callable[[], datetime]
    documents: list[DocZip] = field(default_factory=list)
    scripted: deque[Callable[[str], Answer]] = field(default_factory=deque)
    calls: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    resend: dict[int, list[int]] = field(default_factory=dict)  # page start NSU -> old NSUs re-sent
    last_returned: str | None = None
    has_max: bool = True  # the ADN has no maxNSU: it is never "caught up", it answers empty
    page_size: int = PAGE  # tests use smaller pages to cover several with fewer documents

    def publish(self, schema: str, xml: bytes) -> str:
        number = nsu(len(self.documents) + 1)
        self.documents.append(DocZip(number, schema, xml))
        return number

    def after(self, cnpj: str, ult_nsu: str) -> Answer:
        self.calls.append(ult_nsu)
        if self.last_returned is not None and ult_nsu != self.last_returned:
            self.violations.append(f"sent {ult_nsu}, SEFAZ last returned {self.last_returned}")
        if self.scripted:
            return self.scripted.popleft()(ult_nsu)
        start = int(ult_nsu)
        page = self.documents[start : start + self.page_size]
        page = [self.documents[n - 1] for n in self.resend.get(start, [])] + page
        maximum = nsu(len(self.documents))
        ult = page[-1].nsu if page and page[-1].nsu else maximum
        self.last_returned = ult
        code = "138" if page else "137"
        result = classify(DISTRIBUTION_RULES, code, "Documento(s) localizado(s)" if page else "Nenhum")
        caught_up = self.has_max and bool(page) and ult == maximum
        if caught_up:  # as parse_ret_dist_dfe marks it: SEFAZ wants an hour now
            result = replace(result, wait_seconds=3600)
        return Answer(ult_nsu, result, ult, maximum, tuple(page), caught_up, self.clock())


def scripted(
    cstat: str, xmotivo: str, *, ult: str | None = None, maximum: str | None = None
) -> Callable[[str], Answer]:
    """An answer with ``cstat`` (no documents) to whatever NSU is asked."""

    def answer(requested: str) -> Answer:
        result = classify(DISTRIBUTION_RULES, cstat, xmotivo)
        return Answer(requested, result, ult or requested, maximum, (), False, datetime(2026, 3, 1))

    return answer


@dataclass
class FakeSingle:
    """consChNFe / consNSU answers from dicts; records every call."""

    clock: Callable[[], datetime]
    by_key_answers: dict[str, DocZip] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    blocked: bool = False

    def by_key(self, cnpj: str, access_key: str) -> Answer:
        self.calls.append(access_key)
        if self.blocked:
            code = classify(DISTRIBUTION_RULES, "656", "Rejeicao: Consumo Indevido. Tente apos 1 hora")
            return Answer(nsu(0), code, None, None, (), False, self.clock())
        found = self.by_key_answers.get(access_key)
        if found is None:
            return Answer(
                nsu(0), classify(DISTRIBUTION_RULES, "217", "nao consta"), None, None, (), False, self.clock()
            )
        doc = DocZip(None, found.schema, found.xml)
        return Answer(
            nsu(0), classify(DISTRIBUTION_RULES, "138", "ok"), None, None, (doc,), False, self.clock()
        )

    def at(self, cnpj: str, number: str) -> Answer:
        raise AssertionError("consNSU not expected here")


@dataclass
class FakeManifestor:
    """Registers every Ciência (135), or answers ``codes[key]`` for the keys given."""

    lots: list[list[ManifestacaoEvent]] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    lot_code: str = "128"  # anything else refuses the whole lot

    def manifestar(self, cnpj: str, events: Sequence[ManifestacaoEvent]) -> EventLotResult:
        self.lots.append(list(events))
        results = []
        for event in events:
            code = self.codes.get(event.chave, "135")
            registered = code == "135"
            results.append(
                EventResult(
                    chave=event.chave,
                    tp_evento=event.tipo.tp_evento,
                    n_seq_evento=1,
                    outcome=classify(EVENT_RULES, code, "x"),
                    protocol="891260000000001" if registered else None,
                    registered_at=None,
                    ret_evento=b"<retEvento/>",
                    proc_evento=f"<procEventoNFe>{event.chave}</procEventoNFe>".encode()
                    if registered
                    else None,
                )
            )
        if self.lot_code != "128":
            return EventLotResult("0", "2", "test", classify(EVENT_LOT_RULES, self.lot_code, "lote"), ())
        return EventLotResult("1", "2", "test", classify(EVENT_LOT_RULES, "128", "ok"), tuple(results))


@dataclass
class FakeServices:
    """Hands out the fakes above, whatever the certificate."""

    pages_by_family: dict[Family, DistributionSource]
    single: FakeSingle
    manifestations: FakeManifestor

    def pages(self, family: Family, company: CompanyRecord, credentials: Credentials) -> DistributionSource:
        return self.pages_by_family[family]

    def single_queries(self, company: CompanyRecord, credentials: Credentials) -> FakeSingle:
        return self.single

    def manifestor(self, company: CompanyRecord, credentials: Credentials) -> FakeManifestor:
        return self.manifestations


class FakeCredentials:
    """The company's test-CA certificate, or a CredentialProblem when ``problem`` is set."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.opened = 0

    def for_company(self, company: CompanyRecord, agent_books: AgentBooks | None = None) -> Credentials:
        if self.problem:
            raise CredentialProblem(self.problem)
        self.opened += 1
        return _credentials(company.cnpj, company.legal_name)


@functools.cache
def _credentials(cnpj: str, name: str) -> Credentials:
    issued = company_certificate(cnpj, name)
    a1 = load_pfx(issued.to_pfx("senha"), "senha")
    tls = TlsSettings(ca_pem=default_ca().trust_pem().decode())
    return Credentials(
        "cert-1", a1.fingerprint_sha256, a1.signer(), HttpsTransport(ClientIdentity.from_a1(a1), tls)
    )


@dataclass
class FakeContinuation:
    """Records the executions the worker starts to carry a run on."""

    started: dict[str, SyncState] = field(default_factory=dict)

    def start(self, state: SyncState) -> None:
        self.started.setdefault(continuation_name(state), state)
