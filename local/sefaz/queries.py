"""The rules of NFeDistribuicaoDFe and CTeDistribuicaoDFe (NT 2014.002) over the engine's state.

``answer`` runs the admission checks in order, then the handler of the query kind; each check or
handler answers a :class:`~local.sefaz.cstat.Code`, and codes that mark a violation go to the
ledger (656 also blocks the CNPJ for an hour).

First query of a CNPJ: with no distNSU answered yet, any ultNSU up to maxNSU is accepted (0 is the
usual fresh start; a persisted cursor is a resume). From then on only the ultNSU last returned is,
so a later 0 is "lower than the last ultNSU" and draws the 656 like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Final

from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import parse_access_key
from local.sefaz.cstat import Code, Rejection
from local.sefaz.notes import Note
from local.sefaz.rules import Consumption, Policy
from local.sefaz.service import Service
from local.sefaz.store import DocumentLog, Item

if TYPE_CHECKING:
    from local.sefaz.distribution import DistributionEngine

PROC_NFE_SCHEMA: Final = "procNFe_v4.00.xsd"
# What consChNFe hands out for a key, best first: the full NF-e when released, else its summary.
_DOWNLOAD_PRIORITY: Final[Mapping[str, int]] = {PROC_NFE_SCHEMA: 0, "resNFe_v1.01.xsd": 1}


class QueryKind(Enum):
    """The three forms of a distDFeInt request."""

    DIST_NSU = "distNSU"
    CONS_NSU = "consNSU"
    CONS_CHAVE = "consChNFe"


@dataclass(frozen=True)
class DistQuery:
    """A distDFeInt request, already read from XML; ``certificate_cnpj`` comes from the TLS peer."""

    service: Service
    kind: QueryKind
    interested: str  # the CNPJ (14) or CPF (11) asked about
    tp_amb: str
    certificate_cnpj: str | None
    nsu: int = 0  # ultNSU for distNSU, NSU for consNSU
    key: str = ""  # chNFe for consChNFe


@dataclass(frozen=True)
class DistResult:
    """The engine's answer: the code, ultNSU and maxNSU as retDistDFeInt carries them, the documents."""

    code: Code
    ult_nsu: int = 0
    max_nsu: int = 0
    items: tuple[Item, ...] = ()


def same_base(interested: str, certificate_cnpj: str) -> bool:
    """True when the certificate may query ``interested``: same CNPJ base, or the same CPF."""
    if len(interested) == 14:
        return interested[:8] == certificate_cnpj[:8]
    return interested == certificate_cnpj


@dataclass
class _Context:
    engine: DistributionEngine
    query: DistQuery
    usage: Consumption
    now: datetime

    @property
    def log(self) -> DocumentLog:
        return self.engine.log(self.query.service, self.query.interested)

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    def reject(self, code: Code, detail: str) -> DistResult:
        self.engine.record(self.query.service, self.query.interested, code, detail)
        if code.blocks:
            self.usage.block(self.now, code, self.policy)
            # A 656 carries the last ultNSU the AN returned and maxNSU zero (NT 2014.002 v1.14).
            return DistResult(code, self.usage.last_ult_nsu or 0, 0)
        return DistResult(code)

    def retained(self, item: Item) -> bool:
        return item.available_at >= self.now - self.policy.retention


def _paused(context: _Context) -> Rejection | None:
    code = context.engine.paused(context.query.service)
    return None if code is None else (code, "service paused")


def _environment(context: _Context) -> Rejection | None:
    expected = context.engine.environment
    if context.query.tp_amb == expected:
        return None
    return Code.ENVIRONMENT_MISMATCH, f"tpAmb {context.query.tp_amb} sent to the tpAmb {expected} service"


def _certificate(context: _Context) -> Rejection | None:
    certificate = context.query.certificate_cnpj
    if certificate is None:
        return Code.CERTIFICATE_WITHOUT_CNPJ, "the client certificate names no CNPJ"
    if same_base(context.query.interested, certificate):
        return None
    return (
        Code.CNPJ_BASE_MISMATCH,
        f"asked about {context.query.interested} with the certificate of {certificate}",
    )


def _blocked(context: _Context) -> Rejection | None:
    code = context.usage.blocking_code(context.now)
    if code is None:
        return None
    return code, f"{context.query.kind.value} during a block; the hour restarts now"


_ADMISSION: Final[tuple[Callable[[_Context], Rejection | None], ...]] = (
    _paused,
    _environment,
    _certificate,
    _blocked,
)


def _dist_nsu(context: _Context) -> DistResult:
    query, usage, log = context.query, context.usage, context.log
    if usage.must_wait(context.now):
        return context.reject(
            Code.WAIT_AFTER_EMPTY, f"distNSU before {usage.quiet_until} (1 h after 137 or ultNSU == maxNSU)"
        )
    if usage.last_ult_nsu is not None and query.nsu != usage.last_ult_nsu:
        return context.reject(
            Code.WRONG_ULT_NSU, f"ultNSU {query.nsu} sent, {usage.last_ult_nsu} returned last"
        )
    if query.nsu > log.max_nsu:
        return context.reject(Code.NSU_ABOVE_MAX, f"ultNSU {query.nsu} above maxNSU {log.max_nsu}")
    items = log.after(
        query.nsu, not_before=context.now - context.policy.retention, limit=context.policy.batch_limit
    )
    # With nothing left (or only documents past retention) the answer jumps to maxNSU.
    ult_nsu = items[-1].nsu if items else log.max_nsu
    usage.answered(context.now, ult_nsu, log.max_nsu, context.policy)
    return DistResult(Code.FOUND if items else Code.NOTHING_FOUND, ult_nsu, log.max_nsu, tuple(items))


def _spend(context: _Context) -> DistResult | None:
    if context.usage.spend_single_query(context.now, context.policy):
        return None
    limit = context.policy.single_query_limit
    return context.reject(Code.SINGLE_QUERY_LIMIT, f"more than {limit} consNSU/consChNFe within the hour")


def _cons_nsu(context: _Context) -> DistResult:
    if (over_budget := _spend(context)) is not None:
        return over_budget
    query, log = context.query, context.log
    if query.nsu > log.max_nsu:
        return context.reject(Code.NSU_ABOVE_MAX, f"NSU {query.nsu} above maxNSU {log.max_nsu}")
    item = log.get(query.nsu)
    if item is None:
        return DistResult(Code.NOTHING_FOUND, query.nsu, log.max_nsu)
    if not context.retained(item):
        return context.reject(Code.OUT_OF_WINDOW, f"NSU {query.nsu} arrived {item.available_at}")
    return DistResult(Code.FOUND, query.nsu, log.max_nsu, (item,))


def _cons_chave(context: _Context) -> DistResult:
    if (over_budget := _spend(context)) is not None:
        return over_budget
    query = context.query
    try:
        key = parse_access_key(query.key, "chNFe")
    except InvalidValue as exc:
        return context.reject(Code.KEY_CHECK_DIGIT, str(exc))
    if key.issuer_doc.removeprefix("000") == query.interested:
        return context.reject(Code.OWN_NOTE, f"{query.interested} issued {query.key}")
    return _download(context, context.engine.notes.get(query.key))


def _download(context: _Context, note: Note | None) -> DistResult:
    """The best document of a key in the CNPJ's queue: the procNFe when released, else the resNFe."""
    query, log = context.query, context.log
    candidates = [item for item in log.for_key(query.key) if item.schema in _DOWNLOAD_PRIORITY]
    if not candidates:
        if note is not None and note.recipient != query.interested:
            return context.reject(Code.NOT_PERMITTED, f"{query.interested} is no party to {query.key}")
        return DistResult(Code.NOT_IN_DATABASE)
    if note is not None and (note.denied or note.cancelled(context.now)):
        return DistResult(Code.DENIED if note.denied else Code.CANCELLED)
    best = min(candidates, key=lambda item: (_DOWNLOAD_PRIORITY[item.schema], -item.nsu))
    if not context.retained(best):
        return context.reject(Code.OUT_OF_WINDOW, f"{query.key} arrived {best.available_at}")
    return DistResult(Code.FOUND, best.nsu, log.max_nsu, (best,))


_HANDLERS: Final[Mapping[QueryKind, Callable[[_Context], DistResult]]] = {
    QueryKind.DIST_NSU: _dist_nsu,
    QueryKind.CONS_NSU: _cons_nsu,
    QueryKind.CONS_CHAVE: _cons_chave,
}


def answer(engine: DistributionEngine, query: DistQuery) -> DistResult:
    """Answer one distDFeInt request; the caller holds the engine's lock."""
    context = _Context(engine, query, engine.usage(query.service, query.interested), engine.clock.now())
    for check in _ADMISSION:
        rejection = check(context)
        if rejection is not None:
            return context.reject(*rejection)
    return _HANDLERS[query.kind](context)
