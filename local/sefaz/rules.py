"""The usage rules of the distribution services (NT 2014.002) as numbers, and what SEFAZ remembers
about each CNPJ to enforce them.

Every figure is a field of :class:`Policy` so a test or a demo can tighten or relax one rule
without touching the engine; the defaults are the real ones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from local.sefaz.cstat import Code

HOUR: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    """The numbers behind each rule; defaults follow NT 2014.002 and the notes in §1.5–§1.7, §4.4."""

    batch_limit: int = 50  # docZip per answer (the XSD's maxOccurs)
    quiet_period: timedelta = HOUR  # after 137, or once ultNSU == maxNSU, distNSU must wait this long
    block_period: timedelta = HOUR  # a 656 blocks the CNPJ this long; each attempt restarts it
    single_query_limit: int = 20  # consNSU + consChNFe per CNPJ within single_query_window
    single_query_window: timedelta = HOUR
    retention: timedelta = timedelta(days=90)  # documents older than this are no longer distributed
    release_delay: timedelta = timedelta(minutes=10)  # manifestação to procNFe at the AN (UFs lag)
    ciencia_deadline: timedelta = timedelta(days=10)  # Ajuste SINIEF 44/20, from authorisation
    conclusive_deadline: timedelta = timedelta(days=180)
    event_clock_skew: timedelta = timedelta(minutes=5)  # dhEvento tolerated ahead of the server


@dataclass
class Consumption:
    """What the AN remembers about one CNPJ's use of one distribution service."""

    last_ult_nsu: int | None = None  # the ultNSU last returned by distNSU; None before any answer
    quiet_until: datetime | None = None
    blocked_until: datetime | None = None
    blocked_for: Code | None = None
    single_queries: deque[datetime] = field(default_factory=deque)

    def blocking_code(self, now: datetime) -> Code | None:
        """The 656 that blocked the CNPJ, while the block lasts; None when not blocked."""
        if self.blocked_until is not None and now < self.blocked_until:
            return self.blocked_for
        return None

    def block(self, now: datetime, code: Code, policy: Policy) -> None:
        """Start (or restart) the block: SEFAZ counts the hour from the latest attempt."""
        self.blocked_until = now + policy.block_period
        self.blocked_for = code

    def must_wait(self, now: datetime) -> bool:
        """True while distNSU must not be called (within the hour after 137 or catching up)."""
        return self.quiet_until is not None and now < self.quiet_until

    def answered(self, now: datetime, ult_nsu: int, max_nsu: int, policy: Policy) -> None:
        """Remember a distNSU answer; one that reaches maxNSU starts the quiet hour."""
        self.last_ult_nsu = ult_nsu
        if ult_nsu >= max_nsu:
            self.quiet_until = now + policy.quiet_period

    def spend_single_query(self, now: datetime, policy: Policy) -> bool:
        """Count one consNSU/consChNFe; False when it is over the hourly budget (not counted then)."""
        window_start = now - policy.single_query_window
        while self.single_queries and self.single_queries[0] <= window_start:
            self.single_queries.popleft()
        if len(self.single_queries) >= policy.single_query_limit:
            return False
        self.single_queries.append(now)
        return True
