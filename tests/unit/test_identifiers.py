"""CNPJ (numeric and alphanumeric), CPF, 44-character access keys and 50-digit NFS-e keys."""

from __future__ import annotations

import pytest

from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import (
    DocumentModel,
    build_access_key,
    build_nfse_key,
    cnpj_base,
    format_cnpj,
    is_valid_cnpj,
    mod11_dv,
    normalize_cnpj,
    normalize_cpf,
    parse_access_key,
    parse_nfse_key,
)

# Receita Federal's published example of an alphanumeric CNPJ, and a classic numeric one.
ALNUM_CNPJ = "12.ABC.345/01DE-35"
NUMERIC_CNPJ = "11.222.333/0001-81"
# Real keys from the nfelib wheel's samples (public test data shipped with that package).
NFE_KEY = "41170706117473000150550010000463202612756525"
CTE_KEY = "35190602427026001207570040000522031000522035"
NFSE_KEY = "42024042200000000000000000000000000126031234567892"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (NUMERIC_CNPJ, "11222333000181"),
        ("11222333000181", "11222333000181"),
        (ALNUM_CNPJ, "12ABC34501DE35"),
        ("12abc34501de35", "12ABC34501DE35"),
    ],
)
def test_valid_cnpjs_normalize(raw: str, expected: str) -> None:
    assert normalize_cnpj(raw) == expected
    assert is_valid_cnpj(raw)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("11222333000182", "wrong check digits"),
        ("12ABC34501DE36", "wrong check digits"),
        ("1122233300018", "14 characters"),
        ("11222333000181X", "14 characters"),
        ("12ABC34501DEAB", "12 letters or digits"),
        ("00000000000000", "all characters equal"),
        ("12.ABC.345/01DE-3!", "12 letters or digits"),
    ],
)
def test_invalid_cnpjs_name_the_field_and_problem(raw: str, problem: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        normalize_cnpj(raw, field="company.cnpj")
    assert caught.value.field == "company.cnpj"
    assert problem in str(caught.value)
    assert not is_valid_cnpj(raw)


def test_cnpj_rejects_non_text() -> None:
    with pytest.raises(InvalidValue, match="expected text, got int"):
        normalize_cnpj(11222333000181)


def test_cnpj_base_and_format() -> None:
    assert cnpj_base(ALNUM_CNPJ) == "12ABC345"
    assert format_cnpj("11222333000181") == NUMERIC_CNPJ


def test_cpf() -> None:
    assert normalize_cpf("529.982.247-25") == "52998224725"
    with pytest.raises(InvalidValue, match="wrong check digits"):
        normalize_cpf("52998224724")
    with pytest.raises(InvalidValue, match="all digits equal"):
        normalize_cpf("111.111.111-11")
    with pytest.raises(InvalidValue, match="11 digits"):
        normalize_cpf("5299822472")


def test_access_key_fields() -> None:
    key = parse_access_key(NFE_KEY)
    assert (key.cuf, key.uf, key.year, key.month) == ("41", "PR", 2017, 7)
    assert key.issuer_doc == "06117473000150"
    assert key.model is DocumentModel.NFE and key.model.label == "NF-e"
    assert (key.series, key.number, key.emission_type) == (1, 46320, 2)
    assert key.cnf == "61275652" and key.check_digit == 5
    assert not key.issuer_is_cpf
    assert parse_access_key(CTE_KEY).model.label == "CT-e"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (NFE_KEY[:-1] + "6", "check digit is 6, expected 5"),
        (NFE_KEY[:-1], "44 characters, got 43"),
        ("X" + NFE_KEY[1:], "only digits"),
        ("99" + NFE_KEY[2:], None),  # DV changes too, so either message is acceptable
    ],
)
def test_invalid_access_keys(raw: str, problem: str | None) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_access_key(raw)
    assert caught.value.field == "access_key"
    if problem:
        assert problem in str(caught.value)


def _with_dv(body: str) -> str:
    return body + str(mod11_dv(body))


def test_access_key_rejects_bad_uf_month_and_model_even_with_right_dv() -> None:
    with pytest.raises(InvalidValue, match="99 is not a UF code"):
        parse_access_key(_with_dv("99" + NFE_KEY[2:43]))
    with pytest.raises(InvalidValue, match="month 13"):
        parse_access_key(_with_dv(NFE_KEY[:4] + "13" + NFE_KEY[6:43]))
    with pytest.raises(InvalidValue, match="model 99"):
        parse_access_key(_with_dv(NFE_KEY[:20] + "99" + NFE_KEY[22:43]))


def test_access_key_with_alphanumeric_cnpj_round_trips() -> None:
    key = build_access_key(
        cuf="35",
        year_month="2608",
        issuer_doc="12ABC34501DE35",
        model=DocumentModel.NFE,
        series=1,
        number=123,
        cnf="12345678",
    )
    assert key.issuer_doc == "12ABC34501DE35"
    assert parse_access_key(key.value) == key
    # 'A' weighs 17 (ord - 48): a key computed with any other value fails.
    assert len(key.value) == 44


def test_access_key_of_person_issuer() -> None:
    key = build_access_key(
        cuf="31",
        year_month="2611",
        issuer_doc="52998224725",
        model=DocumentModel.NFCE,
        series=2,
        number=9,
        cnf="1",
    )
    assert key.issuer_doc == "00052998224725" and key.issuer_is_cpf
    assert key.model.label == "NFC-e"


def test_nfse_key() -> None:
    key = parse_nfse_key(NFSE_KEY)
    assert key.municipality == "4202404" and key.environment == 2
    assert key.issuer_doc_type == 2 and key.issuer_doc == "00000000000000"
    assert key.number == 1 and key.year_month == "2603"
    built = build_nfse_key(
        municipality="3550308", issuer_doc="11222333000181", number=42, year_month="2611", code="7"
    )
    assert parse_nfse_key(built.value) == built
    person = build_nfse_key(
        municipality="3550308", issuer_doc="52998224725", number=1, year_month="2611", code="7"
    )
    assert person.issuer_doc_type == 1 and person.issuer_doc == "52998224725"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (NFSE_KEY[:-1] + "3", "check digit is 3, expected 2"),
        (NFSE_KEY + "1", "50 digits, got 51"),
        ("A" + NFSE_KEY[1:], "only digits"),
    ],
)
def test_invalid_nfse_keys(raw: str, problem: str) -> None:
    with pytest.raises(InvalidValue, match=problem):
        parse_nfse_key(raw)
