"""How the sync talks to users: who a company is, which service spoke, when a wait ends.

Users are in Brazil and read times in Brasília time (UTC-3, no daylight saving since 2019).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Final

from fiscal_core.identifiers import format_cnpj
from fiscal_core.storage.records import Family

BRASILIA: Final = timezone(timedelta(hours=-3))

SOURCES: Final[Mapping[Family, str]] = {
    Family.NFE: "SEFAZ (NF-e distribution)",
    Family.CTE: "SEFAZ (CT-e distribution)",
    Family.MDFE: "SEFAZ (MDF-e)",
    Family.NFSE: "the national NFS-e system (ADN)",
}


def when(moment: datetime) -> str:
    """``14:05 on 28/11 (Brasília time)``."""
    local = moment.astimezone(BRASILIA)
    return f"{local:%H:%M} on {local:%d/%m} (Brasília time)"


def company_name(legal_name: str, cnpj: str) -> str:
    """``ACME LTDA (CNPJ 12.345.678/0001-95)``."""
    try:
        shown = format_cnpj(cnpj)
    except ValueError:
        shown = cnpj
    return f"{legal_name} (CNPJ {shown})"
