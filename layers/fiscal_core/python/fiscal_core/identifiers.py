"""Brazilian fiscal identifiers: CNPJ (numeric and alphanumeric), CPF and document access keys.

Values are kept as strings, never integers: leading zeros matter and, from July 2026, a CNPJ may
carry letters (NT Conjunta 2025.001). Every check digit here weighs a character as ``ord(c) - 48``,
which is the digit's value for 0-9 and 17 for ``A``, as the alphanumeric CNPJ rules require.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from fiscal_core.errors import InvalidValue

_PUNCTUATION = re.compile(r"[.\-/\s]")
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_CPF_SHAPE = re.compile(r"[0-9]{11}")

UF_BY_CODE: Final[dict[str, str]] = {
    "11": "RO", "12": "AC", "13": "AM", "14": "RR", "15": "PA", "16": "AP", "17": "TO",
    "21": "MA", "22": "PI", "23": "CE", "24": "RN", "25": "PB", "26": "PE", "27": "AL",
    "28": "SE", "29": "BA", "31": "MG", "32": "ES", "33": "RJ", "35": "SP", "41": "PR",
    "42": "SC", "43": "RS", "50": "MS", "51": "MT", "52": "GO", "53": "DF",
}  # fmt: skip
CODE_BY_UF: Final[dict[str, str]] = {uf: code for code, uf in UF_BY_CODE.items()}


class DocumentModel(Enum):
    """The ``mod`` of a 44-character access key, with the document it names."""

    NFE = "55"
    NFCE = "65"
    CTE = "57"
    CTE_OS = "67"
    GTVE = "64"
    MDFE = "58"
    BPE = "63"

    @property
    def label(self) -> str:
        """The name users know the document by (NF-e, CT-e OS, ...)."""
        return _MODEL_LABELS[self]


_MODEL_LABELS: Final[dict[DocumentModel, str]] = {
    DocumentModel.NFE: "NF-e",
    DocumentModel.NFCE: "NFC-e",
    DocumentModel.CTE: "CT-e",
    DocumentModel.CTE_OS: "CT-e OS",
    DocumentModel.GTVE: "GTV-e",
    DocumentModel.MDFE: "MDF-e",
    DocumentModel.BPE: "BP-e",
}


def _char_value(char: str) -> int:
    return ord(char) - 48


def _weighted_dv(body: str, weights: list[int]) -> int:
    """A mod-11 check digit: 0 when the remainder is 0 or 1, else 11 minus the remainder."""
    remainder = sum(_char_value(c) * w for c, w in zip(body, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def mod11_dv(body: str) -> int:
    """The mod-11 check digit of access keys: weights 2 to 9 from the right, cycling."""
    weights = [2 + (i % 8) for i in range(len(body))][::-1]
    return _weighted_dv(body, weights)


def _clean(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, f"expected text, got {type(value).__name__}")
    return _PUNCTUATION.sub("", value).upper()


def normalize_cnpj(value: object, field: str = "cnpj") -> str:
    """Return the 14-character CNPJ without punctuation, or raise InvalidValue saying why.

    Accepts the numeric CNPJ and the alphanumeric one (12 letters or digits, then 2 digits).
    """
    cnpj = _clean(value, field)
    if len(cnpj) != 14:
        raise InvalidValue(field, f"a CNPJ has 14 characters, got {len(cnpj)} in {value!r}")
    if not _CNPJ_SHAPE.fullmatch(cnpj):
        raise InvalidValue(field, f"{value!r} is not a CNPJ: 12 letters or digits followed by 2 check digits")
    if cnpj == cnpj[0] * 14:
        raise InvalidValue(field, f"{value!r} is not a valid CNPJ (all characters equal)")
    first = _weighted_dv(cnpj[:12], [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = _weighted_dv(cnpj[:12] + str(first), [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    if cnpj[12:] != f"{first}{second}":
        raise InvalidValue(field, f"CNPJ {value!r} has wrong check digits; check for a typo")
    return cnpj


def normalize_cpf(value: object, field: str = "cpf") -> str:
    """Return the 11-digit CPF without punctuation, or raise InvalidValue saying why."""
    cpf = _clean(value, field)
    if not _CPF_SHAPE.fullmatch(cpf):
        raise InvalidValue(field, f"a CPF has 11 digits, got {value!r}")
    if cpf == cpf[0] * 11:
        raise InvalidValue(field, f"{value!r} is not a valid CPF (all digits equal)")
    first = _weighted_dv(cpf[:9], list(range(10, 1, -1)))
    second = _weighted_dv(cpf[:9] + str(first), list(range(11, 1, -1)))
    if cpf[9:] != f"{first}{second}":
        raise InvalidValue(field, f"CPF {value!r} has wrong check digits; check for a typo")
    return cpf


def is_valid_cnpj(value: object) -> bool:
    """True when ``value`` is a valid CNPJ, numeric or alphanumeric."""
    try:
        normalize_cnpj(value)
    except InvalidValue:
        return False
    return True


def cnpj_base(cnpj: str) -> str:
    """The 8-character root shared by all establishments of a company (SEFAZ checks it)."""
    return normalize_cnpj(cnpj)[:8]


def format_cnpj(cnpj: str) -> str:
    """``12.345.678/0001-95`` from a valid CNPJ."""
    c = normalize_cnpj(cnpj)
    return f"{c[:2]}.{c[2:5]}.{c[5:8]}/{c[8:12]}-{c[12:]}"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A parsed 44-character access key of NF-e, NFC-e, CT-e, CT-e OS, GTV-e, MDF-e or BP-e."""

    value: str
    cuf: str
    year_month: str  # AAMM as in the key
    issuer_doc: str  # CNPJ, or CPF left-padded with 000
    model: DocumentModel
    series: int
    number: int
    emission_type: int
    cnf: str
    check_digit: int

    @property
    def uf(self) -> str:
        """The issuer's state (SP, RJ, ...)."""
        return UF_BY_CODE[self.cuf]

    @property
    def year(self) -> int:
        """The four-digit year of emission encoded in the key."""
        return 2000 + int(self.year_month[:2])

    @property
    def month(self) -> int:
        """The month of emission encoded in the key."""
        return int(self.year_month[2:])

    @property
    def issuer_is_cpf(self) -> bool:
        """True when the issuer is a person: the document field holds 000 and a CPF."""
        return self.issuer_doc.startswith("000") and _is_cpf(self.issuer_doc[3:])

    def __str__(self) -> str:
        return self.value


def _is_cpf(value: str) -> bool:
    try:
        normalize_cpf(value)
    except InvalidValue:
        return False
    return True


_ACCESS_KEY_SHAPE = re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}")


def parse_access_key(value: object, field: str = "access_key") -> AccessKey:
    """Parse and validate a 44-character access key; raise InvalidValue naming what is wrong."""
    key = _clean(value, field)
    if len(key) != 44:
        raise InvalidValue(field, f"an access key has 44 characters, got {len(key)}")
    if not _ACCESS_KEY_SHAPE.fullmatch(key):
        raise InvalidValue(field, "an access key holds only digits, except letters in the CNPJ part")
    expected = mod11_dv(key[:43])
    if int(key[43]) != expected:
        raise InvalidValue(field, f"check digit is {key[43]}, expected {expected}; check for a typo")
    cuf = key[:2]
    if cuf not in UF_BY_CODE:
        raise InvalidValue(field, f"{cuf} is not a UF code (cUF)")
    month = int(key[4:6])
    if not 1 <= month <= 12:
        raise InvalidValue(field, f"month {key[4:6]} in the key's AAMM is not a month")
    try:
        model = DocumentModel(key[20:22])
    except ValueError:
        raise InvalidValue(field, f"model {key[20:22]} is not a known document model") from None
    return AccessKey(
        value=key,
        cuf=cuf,
        year_month=key[2:6],
        issuer_doc=key[6:20],
        model=model,
        series=int(key[22:25]),
        number=int(key[25:34]),
        emission_type=int(key[34]),
        cnf=key[35:43],
        check_digit=int(key[43]),
    )


def build_access_key(
    *,
    cuf: str,
    year_month: str,
    issuer_doc: str,
    model: DocumentModel,
    series: int,
    number: int,
    emission_type: int = 1,
    cnf: str,
) -> AccessKey:
    """Compose a key from its fields and compute its check digit (used by the fixture factory)."""
    doc = issuer_doc if len(issuer_doc) == 14 else issuer_doc.rjust(14, "0")
    body = f"{cuf}{year_month}{doc}{model.value}{series:03d}{number:09d}{emission_type}{cnf:0>8}"
    return parse_access_key(body + str(mod11_dv(body)))


@dataclass(frozen=True, slots=True)
class NfseKey:
    """A parsed 50-digit national NFS-e access key (chave de acesso da NFS-e Nacional)."""

    value: str
    municipality: str  # IBGE code, 7 digits
    environment: int  # ambiente gerador: 1 município, 2 Sefin Nacional
    issuer_doc_type: int  # 1 CPF, 2 CNPJ
    issuer_doc: str
    number: int
    year_month: str
    code: str
    check_digit: int

    def __str__(self) -> str:
        return self.value


def parse_nfse_key(value: object, field: str = "access_key") -> NfseKey:
    """Parse and validate a 50-digit NFS-e national key; raise InvalidValue naming what is wrong."""
    key = _clean(value, field)
    if len(key) != 50:
        raise InvalidValue(field, f"an NFS-e national key has 50 digits, got {len(key)}")
    if not key.isdigit() or not key.isascii():
        raise InvalidValue(field, "an NFS-e national key holds only digits")
    expected = mod11_dv(key[:49])
    if int(key[49]) != expected:
        raise InvalidValue(field, f"check digit is {key[49]}, expected {expected}; check for a typo")
    doc_type = int(key[8])
    if doc_type not in (1, 2):
        raise InvalidValue(field, f"issuer document type {doc_type} is neither 1 (CPF) nor 2 (CNPJ)")
    month = int(key[38:40])
    if not 1 <= month <= 12:
        raise InvalidValue(field, f"month {key[38:40]} in the key's AAMM is not a month")
    doc = key[9:23]
    return NfseKey(
        value=key,
        municipality=key[:7],
        environment=int(key[7]),
        issuer_doc_type=doc_type,
        issuer_doc=doc[3:] if doc_type == 1 else doc,
        number=int(key[23:36]),
        year_month=key[36:40],
        code=key[40:49],
        check_digit=int(key[49]),
    )


def build_nfse_key(
    *,
    municipality: str,
    issuer_doc: str,
    number: int,
    year_month: str,
    code: str,
    environment: int = 2,
) -> NfseKey:
    """Compose a national NFS-e key and compute its check digit (used by the fixture factory)."""
    doc_type = 1 if len(issuer_doc) == 11 else 2
    body = f"{municipality:0>7}{environment}{doc_type}{issuer_doc:0>14}{number:013d}{year_month}{code:0>9}"
    return parse_nfse_key(body + str(mod11_dv(body)))
