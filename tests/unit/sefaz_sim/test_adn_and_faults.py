"""The ADN's JSON distribution and the fault queue, without sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fiscal_core.doczip import decode_doczip
from local.fixtures.documents import Company, nfse
from local.fixtures.identities import cnpj_for
from local.sefaz import Code, DistributionEngine, FaultKind, FaultQueue, Service
from local.sefaz.adn import handler
from local.sefaz.faults import damaged
from local.sefaz.wire import Request, Response

from .conftest import BRANCH, COMPANY

OTHER = Company(cnpj_for("outra empresa adn"), "OUTRA EMPRESA LTDA")


@pytest.fixture(scope="module")
def service_note() -> bytes:
    return nfse(COMPANY, OTHER, number=1).xml


def get(
    engine: DistributionEngine,
    nsu: str,
    query: dict[str, str] | None = None,
    certificate: str | None = COMPANY.cnpj,
) -> tuple[int, dict[str, Any]]:
    response = handler(engine)(
        Request(
            "GET",
            f"/contribuintes/DFe/{nsu}",
            {"lote": "true"} if query is None else query,
            {},
            b"",
            certificate,
        ),
        nsu,
    )
    assert response.content_type.startswith("application/json")
    return response.status, json.loads(response.body)


def publish(engine: DistributionEngine, xml: bytes, count: int, cnpj: str = COMPANY.cnpj) -> None:
    for _ in range(count):
        engine.publish(Service.ADN_DIST, cnpj, "NFSe_v1.01.xsd", xml)


def test_lote_pages_by_50_above_the_nsu_given(engine, service_note):
    publish(engine, service_note, 60)

    first_status, first = get(engine, "0")
    _, second = get(engine, str(first["LoteDFe"][-1]["NSU"]))

    assert (first_status, first["StatusProcessamento"]) == (200, "DOCUMENTOS_LOCALIZADOS")
    assert [entry["NSU"] for entry in first["LoteDFe"]] == list(range(1, 51))
    assert [entry["NSU"] for entry in second["LoteDFe"]] == list(range(51, 61))
    entry = first["LoteDFe"][0]
    assert entry["TipoDocumento"] == "NFSE"
    assert len(entry["ChaveAcesso"]) == 50
    assert decode_doczip(entry["ArquivoXml"]) == service_note
    assert (first["TipoAmbiente"], first["Erros"]) == ("HOMOLOGACAO", [])


def test_without_lote_the_document_with_that_nsu(engine, service_note):
    publish(engine, service_note, 3)

    status, body = get(engine, "2", {})

    assert (status, [entry["NSU"] for entry in body["LoteDFe"]]) == (200, [2])


def test_an_empty_answer_is_404_with_e2220(engine, service_note):
    publish(engine, service_note, 2)

    status, body = get(engine, "2")

    assert (status, body["StatusProcessamento"], body["LoteDFe"]) == (404, "NENHUM_DOCUMENTO_LOCALIZADO", [])
    assert body["Erros"][0]["Codigo"] == "E2220"


def test_cnpj_consulta_may_name_a_branch_of_the_certificate_only(engine, service_note):
    publish(engine, service_note, 1, BRANCH.cnpj)

    branch_status, _ = get(engine, "0", {"lote": "true", "cnpjConsulta": BRANCH.cnpj})
    other_status, other = get(engine, "0", {"lote": "true", "cnpjConsulta": OTHER.cnpj})
    bad_status, _ = get(engine, "abc")

    assert (branch_status, other_status, bad_status) == (200, 403, 400)
    assert other["StatusProcessamento"] == "REJEICAO"
    assert [(entry.service, entry.code) for entry in engine.ledger] == [
        (Service.ADN_DIST, Code.CNPJ_BASE_MISMATCH),
        (Service.ADN_DIST, Code.SCHEMA_INVALID),
    ]


def test_one_shot_faults_are_used_once_persistent_ones_until_cleared():
    faults = FaultQueue()
    faults.inject(Service.NFE_DIST, FaultKind.HTTP_503, times=2)
    faults.inject(Service.CTE_DIST, FaultKind.RESET, persistent=True)

    taken = [faults.take(Service.NFE_DIST) for _ in range(3)]
    persistent = [faults.take(Service.CTE_DIST) for _ in range(3)]
    faults.clear(Service.CTE_DIST)

    assert [fault.kind if fault else None for fault in taken] == [
        FaultKind.HTTP_503,
        FaultKind.HTTP_503,
        None,
    ]
    assert {fault.kind if fault else None for fault in persistent} == {FaultKind.RESET}
    assert faults.take(Service.CTE_DIST) is None
    assert faults.pending(Service.NFE_EVENTO) == ()


def test_faults_that_a_service_cannot_produce_are_refused():
    with pytest.raises(ValueError, match="cannot answer"):
        FaultQueue().inject(Service.ADN_DIST, FaultKind.SOAP_FAULT)
    with pytest.raises(ValueError, match="at least once"):
        FaultQueue().inject(Service.NFE_DIST, FaultKind.RESET, times=0)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (FaultKind.HTTP_500, 500),
        (FaultKind.HTTP_503, 503),
        (FaultKind.SOAP_FAULT, 500),
        (FaultKind.MALFORMED, 200),
    ],
)
def test_http_level_faults_replace_the_answer(kind, status):
    request = Request("POST", "/x", {}, {"content-type": "application/soap+xml"}, b"")
    answer = Response(200, "application/soap+xml; charset=utf-8", b"<a><b>whole answer</b></a>")

    damage = damaged(kind, request, answer)

    assert damage.status == status
    assert damage.body != answer.body
    with pytest.raises(ValueError, match="not an HTTP-level fault"):
        damaged(FaultKind.RESET, request, answer)
