"""The ledger: every rule a caller broke, when, for which CNPJ, and what SEFAZ answered.

A well-behaved client leaves it empty, so tests of the sync loop end with ``assert not ledger``;
when that fails, :meth:`Ledger.describe` says which rule broke and when.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from local.sefaz.cstat import Code
from local.sefaz.service import Service


@dataclass(frozen=True)
class Violation:
    """One broken rule: the simulated time, the CNPJ (or CPF) concerned, the service and the answer."""

    at: datetime
    cnpj: str
    service: Service
    code: Code
    detail: str = ""

    @property
    def cstat(self) -> str:
        """The cStat SEFAZ answered with."""
        return self.code.cstat

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.at.isoformat()} {self.service.value} {self.cnpj} {self.cstat} {self.code.name}{detail}"


class Ledger:
    """An append-only, thread-safe record of violations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Violation] = []

    def record(self, violation: Violation) -> None:
        """Add one violation."""
        with self._lock:
            self._entries.append(violation)

    @property
    def entries(self) -> tuple[Violation, ...]:
        """Every violation so far, oldest first."""
        with self._lock:
            return tuple(self._entries)

    def for_cnpj(self, cnpj: str) -> tuple[Violation, ...]:
        """The violations concerning one CNPJ (or CPF)."""
        return tuple(entry for entry in self.entries if entry.cnpj == cnpj)

    def codes(self) -> list[Code]:
        """The answer of each violation, oldest first (handy in assertions)."""
        return [entry.code for entry in self.entries]

    def describe(self) -> str:
        """One line per violation, for assertion messages; "no violations" when empty."""
        return "\n".join(str(entry) for entry in self.entries) or "no violations"

    def clear(self) -> None:
        """Forget every violation (between phases of a test)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[Violation]:
        return iter(self.entries)
