"""One distribution queue: the append-only log of what the AN holds for one CNPJ on one service.

Documents may be scheduled for later ("arriving over time"); each receives its NSU only when it
arrives, so NSUs always follow arrival order and the visible log is a gap-free prefix 1..maxNSU,
as on the real AN. Arrival times never decrease along the log, which lets retention and paging
use a binary search.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from fiscal_core.doczip import encode_doczip


@dataclass(frozen=True)
class Item:
    """A document in the log: its NSU, the ``docZip@schema`` name, the XML and when it arrived."""

    nsu: int
    schema: str
    xml: bytes = field(repr=False)
    available_at: datetime
    key: str | None  # the access key it concerns (chNFe, chCTe or the NFS-e key), when known
    doczip: str = field(repr=False)  # gzip then base64, computed once


@dataclass(frozen=True, order=True)
class _Pending:
    at: datetime
    order: int  # keeps scheduling order among documents due at the same instant
    schema: str = field(compare=False)
    xml: bytes = field(compare=False, repr=False)
    key: str | None = field(compare=False)
    doczip: str = field(compare=False, repr=False)


class DocumentLog:
    """The queue of one (service, CNPJ); not thread-safe on its own (the engine holds a lock)."""

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._pending: list[_Pending] = []
        self._by_key: defaultdict[str, list[Item]] = defaultdict(list)
        self._order = itertools.count()

    def schedule(self, schema: str, xml: bytes, at: datetime, key: str | None = None) -> None:
        """Queue a document to arrive at ``at``; it gets its NSU when :meth:`advance_to` reaches it."""
        heapq.heappush(self._pending, _Pending(at, next(self._order), schema, xml, key, encode_doczip(xml)))

    def advance_to(self, now: datetime) -> None:
        """Give an NSU to every document due by ``now``, in arrival order."""
        while self._pending and self._pending[0].at <= now:
            due = heapq.heappop(self._pending)
            # A document scheduled before one already distributed arrives after it: the AN
            # numbers documents as they reach it, and the log's times must not go backwards.
            arrived = max(due.at, self._items[-1].available_at) if self._items else due.at
            item = Item(len(self._items) + 1, due.schema, due.xml, arrived, due.key, due.doczip)
            self._items.append(item)
            if item.key is not None:
                self._by_key[item.key].append(item)

    @property
    def max_nsu(self) -> int:
        """The highest NSU given so far (0 when the log is empty)."""
        return len(self._items)

    @property
    def pending(self) -> int:
        """How many documents are scheduled but have not arrived yet."""
        return len(self._pending)

    def after(self, nsu: int, *, not_before: datetime, limit: int) -> list[Item]:
        """Up to ``limit`` documents with NSU above ``nsu`` that arrived at ``not_before`` or later."""
        first_retained = bisect_left(self._items, not_before, key=lambda item: item.available_at)
        start = max(nsu, first_retained)  # the item with NSU n sits at index n - 1
        return self._items[start : start + limit]

    def get(self, nsu: int) -> Item | None:
        """The document with this NSU, or None when no such NSU was given."""
        return self._items[nsu - 1] if 1 <= nsu <= len(self._items) else None

    def for_key(self, key: str) -> list[Item]:
        """Every arrived document about the access key ``key``, in NSU order."""
        return list(self._by_key.get(key, ()))

    def items(self) -> tuple[Item, ...]:
        """Every arrived document, in NSU order."""
        return tuple(self._items)
