"""distDFeInt requests against the official XSDs, and retDistDFeInt answers read into results."""

from __future__ import annotations

import base64
import gzip

import pytest
from lxml import etree

from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz.cstat import Category, RetryClass
from fiscal_core.sefaz.distdfe import (
    DistFamily,
    DistQuery,
    QueryKind,
    build_dist_dfe,
    format_nsu,
    parse_ret_dist_dfe,
)
from fiscal_core.sefaz.environments import TpAmb
from fiscal_core.sefaz.errors import MalformedResponse, RequestRejectedLocally
from local.fixtures.documents import (
    Company,
    EventType,
    GeneratedDocument,
    nfe_event,
    proc_cte,
    res_evento,
    res_nfe,
)
from local.fixtures.xsd import assert_valid
from tests.unit.sefaz.answers import CTE_NS, Doc, find, ret_dist_dfe

NFE_XSD = "nfe_dist_dfe/schemas/v1_0/distDFeInt_v1.01.xsd"
CTE_XSD = "cte_dist_dfe/schemas/v1_0/distDFeInt_v1.00.xsd"
CNPJ = "11222333000181"
CPF = "52998224725"
KEY = "35200311222333000181550010001807401003642345"


@pytest.mark.parametrize(
    ("query", "group"),
    [
        (DistQuery.dist_nsu(0), "distNSU"),
        (DistQuery.dist_nsu("34000"), "distNSU"),
        (DistQuery.cons_nsu(123456789012345), "consNSU"),
        (DistQuery.cons_chave(KEY), "consChNFe"),
    ],
)
@pytest.mark.parametrize("cuf", [None, "35", "SP"])
def test_nfe_requests_satisfy_the_official_schema(query: DistQuery, group: str, cuf: str | None) -> None:
    xml = build_dist_dfe(DistFamily.NFE, TpAmb.PRODUCTION, CNPJ, query, cuf)
    assert_valid(xml, NFE_XSD)
    root = etree.fromstring(xml)
    assert root.get("versao") == "1.01"
    assert root.nsmap == {None: "http://www.portalfiscal.inf.br/nfe"}  # no prefixes (cStat 404)
    assert root[-1].tag.endswith(group)
    assert b"\n" not in xml  # no formatting characters between tags (cStat 588)


def test_nfe_request_for_a_person_uses_cpf() -> None:
    xml = build_dist_dfe(DistFamily.NFE, TpAmb.HOMOLOGATION, "529.982.247-25", DistQuery.dist_nsu(0))
    assert_valid(xml, NFE_XSD)
    assert f"<CPF>{CPF}</CPF>".encode() in xml


def test_nsu_is_always_fifteen_digits() -> None:
    xml = build_dist_dfe(DistFamily.NFE, TpAmb.PRODUCTION, CNPJ, DistQuery.dist_nsu(34000))
    assert b"<ultNSU>000000000034000</ultNSU>" in xml
    assert format_nsu("000000000000001") == "000000000000001"


@pytest.mark.parametrize("bad", [-1, "12a", "1" * 16, "", " "])
def test_bad_nsus_are_refused(bad: int | str) -> None:
    with pytest.raises(InvalidValue, match="NSU"):
        DistQuery.dist_nsu(bad)


@pytest.mark.parametrize("query", [DistQuery.dist_nsu(5), DistQuery.cons_nsu(77)])
def test_cte_requests_satisfy_the_official_schema(query: DistQuery) -> None:
    xml = build_dist_dfe(DistFamily.CTE, TpAmb.HOMOLOGATION, CNPJ, query, "PR")
    assert_valid(xml, CTE_XSD)
    root = etree.fromstring(xml)
    assert (etree.QName(root).namespace, root.get("versao")) == (CTE_NS, "1.00")
    assert root.findtext(f"{{{CTE_NS}}}cUFAutor") == "41"


def test_cte_refuses_what_its_service_lacks() -> None:
    with pytest.raises(InvalidValue, match="cuf_autor"):
        build_dist_dfe(DistFamily.CTE, TpAmb.PRODUCTION, CNPJ, DistQuery.dist_nsu(0))
    with pytest.raises(InvalidValue, match="consChNFe"):
        build_dist_dfe(DistFamily.CTE, TpAmb.PRODUCTION, CNPJ, DistQuery.cons_chave(KEY), "SP")


def test_cte_schema_catches_an_alphanumeric_cnpj_before_sending() -> None:
    alphanumeric = "12ABC34501DE35"
    # NF-e 1.01 already admits the alphanumeric CNPJ (NT 2025.001); CT-e 1.00 does not.
    build_dist_dfe(DistFamily.NFE, TpAmb.PRODUCTION, alphanumeric, DistQuery.dist_nsu(0))
    with pytest.raises(RequestRejectedLocally, match=r"distDFeInt_v1\.00\.xsd"):
        build_dist_dfe(DistFamily.CTE, TpAmb.PRODUCTION, alphanumeric, DistQuery.dist_nsu(0), "SP")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: build_dist_dfe(DistFamily.NFE, TpAmb.PRODUCTION, "123", DistQuery.dist_nsu(0)), "cnpj"),
        (lambda: DistQuery.cons_chave(KEY[:-1] + "0"), "chave"),
        (
            lambda: build_dist_dfe(DistFamily.NFE, TpAmb.PRODUCTION, CNPJ, DistQuery.dist_nsu(0), "XX"),
            "cuf_autor",
        ),
    ],
)
def test_invalid_input_names_the_field(call, field: str) -> None:
    with pytest.raises(InvalidValue, match=field):
        call()


def _parse(xml: bytes, family: DistFamily = DistFamily.NFE, query: QueryKind = QueryKind.DIST_NSU):
    return parse_ret_dist_dfe(etree.fromstring(xml), family, query)


@pytest.fixture(scope="module")
def nfe_family(nfe: GeneratedDocument) -> list[GeneratedDocument]:
    """A procNFe, its resNFe, a Ciência event and that event's resEvento."""
    event = nfe_event(nfe, EventType.CIENCIA_OPERACAO)
    return [res_nfe(nfe), nfe, res_evento(event), event]


def test_138_decodes_a_doczip_of_each_nfe_schema(nfe_family: list[GeneratedDocument]) -> None:
    docs = [Doc(f"{i:015d}", d.kind.doczip_schema, d.xml) for i, d in enumerate(nfe_family, start=101)]
    result = _parse(
        ret_dist_dfe(
            "138",
            "Documento(s) localizado(s)",
            ult_nsu="000000000000104",
            max_nsu="000000000000900",
            docs=docs,
        )
    )
    assert (result.cstat, result.outcome.category, result.outcome.retry) == (
        "138",
        Category.SUCCESS,
        RetryClass.NONE,
    )
    assert result.outcome.wait_seconds == 0 and not result.caught_up
    assert [(d.nsu, d.schema) for d in result.documents] == [(d.nsu, d.schema) for d in docs]
    assert [d.xml for d in result.documents] == [d.xml for d in nfe_family]
    assert {d.schema for d in result.documents} == {
        "resNFe_v1.01.xsd",
        "procNFe_v4.00.xsd",
        "resEvento_v1.01.xsd",
        "procEventoNFe_v1.00.xsd",
    }
    assert (result.tp_amb, result.ver_aplic, result.dh_resp.utcoffset().total_seconds()) == (
        "2",
        "1.7.6",
        -10800,
    )


def test_138_that_reaches_max_nsu_asks_for_the_hour(nfe: GeneratedDocument) -> None:
    answer = ret_dist_dfe(
        "138",
        "Documento(s) localizado(s)",
        ult_nsu="000000000000050",
        max_nsu="000000000000050",
        docs=[Doc("000000000000050", "procNFe_v4.00.xsd", nfe.xml)],
    )
    result = _parse(answer)
    assert result.caught_up
    assert (result.outcome.retry, result.outcome.wait_seconds) == (RetryClass.WAIT, 3600)
    # The hour applies to distNSU only; consNSU has its own hourly budget.
    assert _parse(answer, query=QueryKind.CONS_NSU).outcome.retry is RetryClass.NONE


def test_consultation_by_key_may_return_a_document_without_nsu(nfe: GeneratedDocument) -> None:
    answer = ret_dist_dfe("138", "Documento localizado", docs=[Doc(None, "procNFe_v4.00.xsd", nfe.xml)])
    result = _parse(answer, query=QueryKind.CONS_CHAVE)
    assert result.documents[0].nsu is None


def test_cte_138_decodes_procCTe_and_requires_nsu() -> None:
    cte = proc_cte(Company("11222333000181", "TRANSPORTADORA TESTE LTDA"))
    answer = ret_dist_dfe(
        "138",
        "Documento(s) localizado(s)",
        ult_nsu="000000000000007",
        max_nsu="000000000000007",
        docs=[Doc("000000000000007", "procCTe_v4.00.xsd", cte.xml)],
        namespace=CTE_NS,
    )
    result = _parse(answer, DistFamily.CTE)
    assert result.documents[0].xml == cte.xml
    without_nsu = answer.replace(b' NSU="000000000000007"', b"")
    with pytest.raises(MalformedResponse, match="NSU attribute is missing"):
        _parse(without_nsu, DistFamily.CTE)


def test_137_means_wait_an_hour() -> None:
    result = _parse(ret_dist_dfe("137", "Nenhum documento localizado"))
    assert (result.outcome.category, result.outcome.retry, result.outcome.wait_seconds) == (
        Category.EMPTY,
        RetryClass.WAIT,
        3600,
    )
    assert result.documents == () and result.ult_nsu == "000000000000000"


def test_656_with_max_nsu_zero_is_a_block_with_the_wait_from_xmotivo() -> None:
    motivo = (
        "Rejeicao: Consumo Indevido (Deve ser aguardado 1 hora para efetuar nova solicitacao caso nao "
        "existam mais documentos a serem pesquisados. Tente apos 1 hora)"
    )
    result = _parse(ret_dist_dfe("656", motivo, ult_nsu="000000000001234", max_nsu="000000000000000"))
    assert (result.outcome.category, result.outcome.retry, result.outcome.wait_seconds) == (
        Category.BLOCKED,
        RetryClass.WAIT,
        3600,
    )
    assert (result.ult_nsu, result.max_nsu) == ("000000000001234", "000000000000000")
    assert not result.outcome.ok and result.xmotivo == motivo


def test_a_rejection_may_omit_the_nsus() -> None:
    result = _parse(ret_dist_dfe("215", "Rejeicao: Falha no schema XML", ult_nsu=None, max_nsu=None))
    assert (result.outcome.retry, result.ult_nsu, result.max_nsu) == (RetryClass.BUG, None, None)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (ret_dist_dfe("138", "ok", ult_nsu=None), "no ultNSU"),
        (ret_dist_dfe("137", "x", max_nsu="12x"), "maxNSU"),
        (ret_dist_dfe("138", "ok").replace(b"<cStat>138</cStat>", b""), "no cStat"),
        (ret_dist_dfe("138", "ok").replace(b"2026-03-10T10:00:00-03:00", b"ontem"), "dhResp"),
        (ret_dist_dfe("138", "ok", namespace=CTE_NS), "namespace"),
        (ret_dist_dfe("138", "ok", docs=[Doc("000000000000001", "", b"<a/>")]), "schema attribute"),
    ],
)
def test_incomplete_answers_raise_malformed_response(answer: bytes, problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem):
        _parse(answer)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("não é base64!", "base64"),
        (base64.b64encode(b"<resNFe/>").decode(), "gzip"),
        (base64.b64encode(gzip.compress(b"<resNFe>" * 100)[:-12]).decode(), "truncated"),
    ],
)
def test_a_broken_doczip_names_its_nsu(content: str, problem: str) -> None:
    answer = ret_dist_dfe("138", "ok", docs=[Doc("000000000000009", "resNFe_v1.01.xsd", b"<x/>")])
    broken = etree.fromstring(answer)
    find(broken, ".//{*}docZip").text = content
    with pytest.raises(MalformedResponse, match=f"NSU 000000000000009.*{problem}"):
        parse_ret_dist_dfe(broken, DistFamily.NFE, QueryKind.DIST_NSU)


def test_a_doczip_bomb_is_refused() -> None:
    bomb = Doc("000000000000001", "procNFe_v4.00.xsd", b"<a>" + b" " * 2_000_000 + b"</a>")
    answer = etree.fromstring(ret_dist_dfe("138", "ok", docs=[bomb]))
    with pytest.raises(MalformedResponse, match="decompression bomb"):
        parse_ret_dist_dfe(answer, DistFamily.NFE, QueryKind.DIST_NSU, max_document_bytes=1_000_000)
