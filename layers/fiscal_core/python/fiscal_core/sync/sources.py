"""The distribution services as the worker sees them: "what comes after this NSU?"

:class:`DistDFeSource` wraps the NF-e/CT-e DistDFe client and :class:`AdnSource` the ADN's
NFS-e client; both answer an :class:`~fiscal_core.sync.answer.Answer`. Single queries (consNSU,
consChNFe) are separate methods of the DistDFe source because SEFAZ rations them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from fiscal_core.sefaz.adn import AdnResult
from fiscal_core.sefaz.clients import AdnClient, DistDFeClient
from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.distdfe import NSU_DIGITS, DistDFeResult
from fiscal_core.sync.answer import Answer, DocZip


class DistributionSource(Protocol):
    """The next page of a company's distribution queue."""

    def after(self, cnpj: str, ult_nsu: str) -> Answer:
        """Up to 50 documents after ``ult_nsu`` (the ultNSU last received, never lower or +1)."""
        ...


class DistDFeSource:
    """NF-e or CT-e distribution (DistDFe): distNSU pages and the rationed single queries.

    ``single`` is a client that never retries on its own: each consNSU/consChNFe SEFAZ receives
    costs one of the 20 an hour, so a resend must go through the budget again.
    """

    def __init__(self, pages: DistDFeClient, single: DistDFeClient, clock: Callable[[], datetime]) -> None:
        self._pages = pages
        self._single = single
        self._clock = clock

    def after(self, cnpj: str, ult_nsu: str) -> Answer:
        """distNSU: the page after ``ult_nsu``."""
        return _answer(ult_nsu, self._pages.dist_nsu(cnpj, ult_nsu), self._clock())

    def by_key(self, cnpj: str, access_key: str) -> Answer:
        """consChNFe: the best document SEFAZ has for ``access_key`` (outside the NSU stream)."""
        result = self._single.cons_chave(cnpj, access_key)
        return _answer("0".zfill(NSU_DIGITS), result, self._clock(), in_stream=False)

    def at(self, cnpj: str, nsu: str) -> Answer:
        """consNSU: the one document at ``nsu``, as if it were a page of one after ``nsu - 1``.

        Used to fill a gap of the stream (an answer SEFAZ gave that never reached FiscalMix).
        """
        previous = f"{int(nsu) - 1:0{NSU_DIGITS}d}"
        answer = _answer(previous, self._single.cons_nsu(cnpj, nsu), self._clock())
        return replace(answer, ult_nsu=nsu, caught_up=False)


def _answer(requested: str, result: DistDFeResult, now: datetime, *, in_stream: bool = True) -> Answer:
    documents = tuple(DocZip(d.nsu if in_stream else None, d.schema, d.xml) for d in result.documents)
    return Answer(
        requested_nsu=requested,
        outcome=result.outcome,
        ult_nsu=result.ult_nsu if in_stream else None,
        max_nsu=result.max_nsu if in_stream else None,
        documents=documents,
        caught_up=in_stream and result.outcome.category is Category.SUCCESS and result.caught_up,
        fetched_at=now,
    )


class AdnSource:
    """NFS-e distribution by the national ADN: batches after an NSU, no maxNSU."""

    def __init__(self, client: AdnClient, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._clock = clock

    def after(self, cnpj: str, ult_nsu: str) -> Answer:
        """The batch after ``ult_nsu`` for the establishment ``cnpj``."""
        result: AdnResult = self._client.fetch(int(ult_nsu), cnpj)
        documents = tuple(
            DocZip(f"{d.nsu:0{NSU_DIGITS}d}", d.tipo_documento or "NFSE", d.xml) for d in result.documents
        )
        last = f"{result.last_nsu:0{NSU_DIGITS}d}"
        return Answer(
            requested_nsu=ult_nsu,
            outcome=result.outcome,
            ult_nsu=last,
            max_nsu=last,
            documents=documents,
            caught_up=False,
            fetched_at=self._clock(),
        )
