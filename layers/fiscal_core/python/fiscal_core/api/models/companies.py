"""Bodies of the companies resource: registration, changes, and the company as listed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from fiscal_core.api.models.identity import Request
from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import CODE_BY_UF, normalize_cnpj
from fiscal_core.model import Model
from fiscal_core.storage.records import Family

Uf = Literal[
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA",
    "PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
]  # fmt: skip
Municipio = Annotated[str, Field(pattern=r"^[0-9]{7}$", description="The município's IBGE code (7 digits).")]
Ie = Annotated[
    str, Field(pattern=r"^(ISENTO|[0-9]{2,14})$", description="Inscrição estadual, digits only, or ISENTO.")
]
Tag = Annotated[str, Field(min_length=1, max_length=40)]
Tags = Annotated[list[Tag], Field(max_length=20, description="Free labels to group companies.")]
LegalName = Annotated[str, Field(min_length=1, max_length=200)]


def _cnpj(value: str) -> str:
    try:
        return normalize_cnpj(value)
    except InvalidValue as exc:
        raise ValueError(exc.problem) from None  # pydantic names the field itself


Cnpj = Annotated[
    str,
    Field(
        min_length=14, max_length=18, description="Numeric or alphanumeric CNPJ, with or without punctuation."
    ),
    AfterValidator(_cnpj),
]


def check_municipio(uf: str, municipio: str | None) -> None:
    """InvalidValue unless the IBGE code lies in the UF (its first two digits are the UF's code)."""
    if municipio is not None and municipio[:2] != CODE_BY_UF[uf]:
        raise InvalidValue("municipio", f"IBGE code {municipio} is not a município of {uf}")


class CompanyCreate(Request):
    """A company (one CNPJ) to collect documents for."""

    cnpj: Cnpj
    legal_name: LegalName
    trade_name: LegalName | None = None
    uf: Uf
    municipio: Municipio | None = None
    ie: Ie | None = None
    tags: Tags = Field(default=[])
    auto_ciencia: bool = Field(
        default=False, description="Send Ciência da Operação for every summary, so the full XML is released."
    )


class CompanyUpdate(Request):
    """The fields to change; omitted ones stay, null clears an optional one. The CNPJ is fixed."""

    legal_name: LegalName | None = None
    trade_name: LegalName | None = None
    uf: Uf | None = None
    municipio: Municipio | None = None
    ie: Ie | None = None
    tags: Tags | None = None
    auto_ciencia: bool | None = None


class CertificateState(Model):
    """The certificate the company's sync uses, and how long it has left."""

    certificate_id: str
    not_after: datetime
    days_to_expiry: int
    state: Literal["VALID", "EXPIRING", "EXPIRED"] = Field(description="EXPIRING within 30 days.")


class SyncHealth(Model):
    """Where the sync of one document family stands."""

    family: Family
    last_success_at: datetime | None
    next_allowed_at: datetime
    block_reason: str | None = Field(description="Why the sync waits, as a code (null when it does not).")
    block_detail: str | None = Field(description="The same in plain words, with what to do if anything.")
    last_error: str | None


class CompanyOut(Model):
    """A company with its certificate state and sync health."""

    company_id: str
    cnpj: str
    legal_name: str
    trade_name: str | None
    uf: str
    municipio: str | None
    ie: str | None
    tags: list[str]
    active: bool
    auto_ciencia: bool
    created_at: datetime
    updated_at: datetime
    certificate: CertificateState | None = Field(description="Null when no certificate is in use.")
    sync: list[SyncHealth] = Field(description="One entry per document family synced so far.")


class CompanyPage(Model):
    """One page of companies."""

    items: list[CompanyOut]
    next_cursor: str | None = None
