"""ADN distribution: request URLs and every kind of answer the field reports describe."""

from __future__ import annotations

import pytest

from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz.adn import build_adn_request, parse_adn_response
from fiscal_core.sefaz.cstat import Category, RetryClass
from fiscal_core.sefaz.environments import HOMOLOGATION, PRODUCTION, Service
from fiscal_core.sefaz.errors import HttpStatusError, MalformedResponse
from fiscal_core.sefaz.transport import HttpResponse
from tests.unit.sefaz.answers import adn_answer, adn_item

BASE = PRODUCTION.url(Service.ADN_CONTRIBUINTES)
NFSE = b'<NFSe xmlns="http://www.sped.fazenda.gov.br/nfse" versao="1.01"><infNFSe Id="NFS1"/></NFSe>'
EVENT = b'<evento xmlns="http://www.sped.fazenda.gov.br/nfse" versao="1.01"/>'


def test_requests_follow_the_documented_path() -> None:
    request = build_adn_request(BASE, 0)
    assert (request.method, request.url) == ("GET", "https://adn.nfse.gov.br/contribuintes/DFe/0?lote=true")
    assert request.headers == {"Accept": "application/json"}
    other = build_adn_request(HOMOLOGATION.url(Service.ADN_CONTRIBUINTES), 1234, "11.222.333/0001-81")
    assert other.url == (
        "https://adn.producaorestrita.nfse.gov.br/contribuintes/DFe/1234?lote=true&cnpjConsulta=11222333000181"
    )
    with pytest.raises(InvalidValue, match="nsu"):
        build_adn_request(BASE, -1)
    with pytest.raises(InvalidValue, match="cnpj"):
        build_adn_request(BASE, 1, "123")


def test_200_decodes_each_item() -> None:
    answer = adn_answer(
        200,
        {
            "StatusProcessamento": "DOCUMENTOS_LOCALIZADOS",
            "LoteDFe": [
                adn_item(101, NFSE),
                {**adn_item(102, EVENT, tipo="EVENTO"), "TipoEvento": "CANCELAMENTO"},
            ],
            "Alertas": [],
            "TipoAmbiente": "PRODUCAO",
            "VersaoAplicativo": "1.0.0",
        },
    )
    result = parse_adn_response(answer, 100, BASE)
    assert (result.outcome.category, result.outcome.retry, result.last_nsu) == (
        Category.SUCCESS,
        RetryClass.NONE,
        102,
    )
    assert [(d.nsu, d.tipo_documento, d.tipo_evento, d.xml) for d in result.documents] == [
        (101, "NFSE", None, NFSE),
        (102, "EVENTO", "CANCELAMENTO", EVENT),
    ]
    assert result.documents[0].chave == "3550308" + "2" * 43
    assert result.tipo_ambiente == "PRODUCAO"


def test_field_names_are_read_in_any_case() -> None:
    item = {key[0].lower() + key[1:]: value for key, value in adn_item(7, NFSE).items()}
    answer = adn_answer(200, {"statusProcessamento": "DOCUMENTOS_LOCALIZADOS", "loteDFe": [item]})
    assert parse_adn_response(answer, 0, BASE).documents[0].nsu == 7


def test_404_with_e2220_is_the_empty_queue() -> None:
    answer = adn_answer(
        404,
        {
            "StatusProcessamento": "NENHUM_DOCUMENTO_LOCALIZADO",
            "Erros": [{"Codigo": "E2220", "Descricao": "Nenhum documento localizado."}],
        },
    )
    result = parse_adn_response(answer, 555, BASE)
    assert (result.outcome.category, result.outcome.retry, result.outcome.wait_seconds) == (
        Category.EMPTY,
        RetryClass.WAIT,
        3600,
    )
    assert (result.documents, result.last_nsu, result.outcome.ok) == ((), 555, True)
    assert "E2220" in result.outcome.xmotivo


def test_429_html_is_rate_limited_with_retry_after() -> None:
    page = b"<html><body>Too Many Requests</body></html>"
    result = parse_adn_response(HttpResponse(429, {"retry-after": "120"}, page), 0, BASE)
    assert (result.outcome.category, result.outcome.retry, result.outcome.wait_seconds) == (
        Category.RATE_LIMITED,
        RetryClass.WAIT,
        120,
    )
    assert parse_adn_response(HttpResponse(429, {}, page), 0, BASE).outcome.wait_seconds == 60


@pytest.mark.parametrize(
    ("status", "category", "retry"),
    [
        (401, Category.CERTIFICATE, RetryClass.ASK_USER),
        (403, Category.PERMISSION, RetryClass.ASK_USER),
        (400, Category.SCHEMA, RetryClass.BUG),
    ],
)
def test_client_errors_with_json_are_classified(status: int, category: Category, retry: RetryClass) -> None:
    answer = adn_answer(status, {"Erros": [{"Codigo": "E2215", "Descricao": "Parametro invalido"}]})
    result = parse_adn_response(answer, 0, BASE)
    assert (result.outcome.category, result.outcome.retry) == (category, retry)
    assert "E2215 Parametro invalido" in result.outcome.xmotivo


def test_an_unknown_rejection_is_loud() -> None:
    answer = adn_answer(
        200, {"StatusProcessamento": "REJEICAO", "Erros": [{"Codigo": "E9999", "Descricao": "?"}]}
    )
    result = parse_adn_response(answer, 0, BASE)
    assert (result.outcome.category, result.outcome.ok) == (Category.OTHER, False)


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (502, True), (404, False), (405, False)])
def test_statuses_without_the_envelope_raise(status: int, retryable: bool) -> None:
    with pytest.raises(HttpStatusError) as raised:
        parse_adn_response(HttpResponse(status, {}, b"<html>erro</html>"), 0, BASE)
    assert raised.value.retryable is retryable


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>ok</html>", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"StatusProcessamento": "DOCUMENTOS_LOCALIZADOS", "LoteDFe": {}}', "not a list"),
        (b'{"StatusProcessamento": "DOCUMENTOS_LOCALIZADOS", "LoteDFe": [{"NSU": "x"}]}', "no valid NSU"),
        (
            b'{"StatusProcessamento": "DOCUMENTOS_LOCALIZADOS", "LoteDFe": [{"NSU": 3, "ArquivoXml": "!!"}]}',
            "NSU 3.*base64",
        ),
    ],
)
def test_unreadable_200_answers_are_malformed(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem):
        parse_adn_response(HttpResponse(200, {}, body), 0, BASE)


@pytest.mark.parametrize(("status", "error"), [(200, MalformedResponse), (404, HttpStatusError)])
def test_an_empty_body_is_not_an_answer(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_adn_response(HttpResponse(status, {}, b""), 0, BASE)
