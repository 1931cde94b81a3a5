"""Bodies of ``POST /documents/{id}/manifestacao``: the conclusive event asked for, SEFAZ's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from fiscal_core.api.models.identity import Request
from fiscal_core.model import Model
from fiscal_core.storage.records import ManifestacaoType


class ManifestacaoRequest(Request):
    """The manifestação to send; ``justificativa`` only (and always) for nao_realizada."""

    type: ManifestacaoType
    justificativa: str | None = Field(
        default=None, max_length=1000, description="15 to 255 characters; nao_realizada only."
    )


class ManifestacaoResult(Model):
    """SEFAZ's answer to a manifestação it accepted, or (QUEUED, 202) the wait for an A3's agent."""

    document_id: str
    type: ManifestacaoType
    outcome: Literal["REGISTERED", "ALREADY_REGISTERED", "QUEUED"]
    cstat: str | None = Field(description="SEFAZ's status code; none while QUEUED.")
    xmotivo: str | None
    protocol: str | None
    registered_at: datetime | None
    message: str = Field(description="What the answer means, in plain words.")
