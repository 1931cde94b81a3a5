"""One answer of a distribution service, whatever the family: what the decision table reads.

DistDFe (NF-e, CT-e) and the ADN (NFS-e) answer differently; their sources turn both into an
:class:`Answer`. It also travels to S3 as the page journal (:mod:`fiscal_core.sync.journal`), so
it converts to and from plain JSON.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fiscal_core.sefaz.cstat import Category, Outcome, RetryClass


@dataclass(frozen=True)
class DocZip:
    """One document of an answer: its NSU (15 digits; None outside the NSU stream), schema, XML."""

    nsu: str | None
    schema: str
    xml: bytes


@dataclass(frozen=True)
class Answer:
    """A classified answer to "the documents after ``requested_nsu``".

    ``caught_up`` is True when the answer says every NSU the service has was read (DistDFe:
    ultNSU == maxNSU); the ADN has no maxNSU, so its answers are never caught up, and its empty
    queue is a 137-like EMPTY instead.
    """

    requested_nsu: str
    outcome: Outcome
    ult_nsu: str | None
    max_nsu: str | None
    documents: tuple[DocZip, ...]
    caught_up: bool
    fetched_at: datetime

    @property
    def nsu_range(self) -> tuple[int, int] | None:
        """(requested, ultNSU]: the NSUs this answer brings for the first time, as numbers."""
        if self.ult_nsu is None:
            return None
        return int(self.requested_nsu), int(self.ult_nsu)

    def to_json(self) -> dict[str, Any]:
        """The answer as JSON-ready values."""
        outcome = self.outcome
        return {
            "requested_nsu": self.requested_nsu,
            "outcome": {
                "cstat": outcome.cstat,
                "xmotivo": outcome.xmotivo,
                "category": outcome.category.value,
                "retry": outcome.retry.value,
                "wait_seconds": outcome.wait_seconds,
                "hint": outcome.hint,
            },
            "ult_nsu": self.ult_nsu,
            "max_nsu": self.max_nsu,
            "documents": [
                {"nsu": d.nsu, "schema": d.schema, "xml": base64.b64encode(d.xml).decode()}
                for d in self.documents
            ],
            "caught_up": self.caught_up,
            "fetched_at": self.fetched_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """The answer :meth:`to_json` wrote."""
        raw = data["outcome"]
        outcome = Outcome(
            cstat=raw["cstat"],
            xmotivo=raw["xmotivo"],
            category=Category(raw["category"]),
            retry=RetryClass(raw["retry"]),
            wait_seconds=int(raw["wait_seconds"]),
            hint=raw["hint"],
        )
        return cls(
            requested_nsu=data["requested_nsu"],
            outcome=outcome,
            ult_nsu=data["ult_nsu"],
            max_nsu=data["max_nsu"],
            documents=tuple(
                DocZip(d["nsu"], d["schema"], base64.b64decode(d["xml"])) for d in data["documents"]
            ),
            caught_up=bool(data["caught_up"]),
            fetched_at=datetime.fromisoformat(data["fetched_at"]),
        )
