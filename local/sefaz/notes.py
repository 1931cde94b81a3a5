"""The NF-e the Ambiente Nacional knows about: who issued each, to whom, and what was manifested.

Distribution queues hold what each CNPJ may download; this registry holds the facts behind them,
which consChNFe (641, 653, 654) and the manifestação do destinatário (494, 575, 573, release of the
procNFe) need. Facts are read from the procNFe with ``fiscal_core.documents``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from fiscal_core.documents import Family, Kind, Status, read_document

# Ciência, Confirmação and Operação não Realizada release the full XML; Desconhecimento does not.
RELEASING_EVENTS: Final = frozenset({"210210", "210200", "210240"})


@dataclass
class Note:
    """One NF-e at the AN; mutable because cancellations and manifestações happen to it."""

    key: str
    issuer: str
    recipient: str | None
    issued_at: datetime  # dhEmi; authorisation follows within seconds, deadlines count from here
    proc_xml: bytes = field(repr=False)
    denied: bool = False
    cancelled_at: datetime | None = None
    events: dict[tuple[str, int], str] = field(default_factory=dict)  # (tpEvento, nSeqEvento) -> nProt
    released: bool = False  # the procNFe was (or is scheduled to be) handed to the recipient

    def cancelled(self, now: datetime) -> bool:
        """True once a cancellation (110111) reached the AN."""
        return self.cancelled_at is not None and self.cancelled_at <= now

    def has_event(self, event_types: Iterable[str]) -> bool:
        """True when any event of these types is registered for the note."""
        wanted = frozenset(event_types)
        return any(event_type in wanted for event_type, _ in self.events)


class NoteRegistry:
    """Notes by access key; not thread-safe on its own (the engine holds a lock)."""

    def __init__(self) -> None:
        self._notes: dict[str, Note] = {}

    def add(self, proc_xml: bytes) -> Note:
        """Register the NF-e in a procNFe (replacing an earlier registration of the same key)."""
        metadata = read_document(proc_xml)
        if metadata.family is not Family.NFE or metadata.kind is not Kind.DOCUMENT:
            raise ValueError(f"a note is registered from a procNFe, got {metadata.schema}")
        if metadata.issuer_doc is None or metadata.issued_at is None:
            raise ValueError(f"the procNFe of {metadata.access_key} names no issuer or emission time")
        note = Note(
            key=metadata.access_key,
            issuer=metadata.issuer_doc,
            recipient=metadata.recipient_doc,
            issued_at=metadata.issued_at,
            proc_xml=proc_xml,
            denied=metadata.status is Status.DENIED,
        )
        self._notes[note.key] = note
        return note

    def get(self, key: str) -> Note | None:
        """The note with this access key, if the AN knows it."""
        return self._notes.get(key)

    def __len__(self) -> int:
        return len(self._notes)
