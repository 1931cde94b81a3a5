"""The ADN's NFS-e distribution: ``GET /contribuintes/DFe/{NSU}?lote=true[&cnpjConsulta=...]``.

REST and JSON instead of SOAP (§3): ``lote=true`` returns up to 50 documents with NSU above the one
given, without it the one document with that NSU; an empty answer is HTTP 404 with E2220. The
ADN documents no 1-hour rule, so none is enforced. Codes starting with ``SIM`` are the simulator's
own: the official ones for those cases were not available (§10).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from local.fixtures.documents.xmlbuild import BRASILIA, HOMOLOGATION
from local.sefaz.cstat import Code
from local.sefaz.distribution import DistributionEngine
from local.sefaz.queries import same_base
from local.sefaz.service import Service
from local.sefaz.store import Item
from local.sefaz.wire import Request, Response

VERSION: Final = "SIM-ADN-1.0.0"
_BEGINNING: Final = datetime.min.replace(tzinfo=UTC)
# TipoDocumento of each queued schema name.
DOCUMENT_TYPES: Final[Mapping[str, str]] = {"NFSe_v1.01.xsd": "NFSE", "evento_v1.01.xsd": "EVENTO"}
_ENVIRONMENTS: Final[Mapping[str, str]] = {HOMOLOGATION: "HOMOLOGACAO", "1": "PRODUCAO"}


@dataclass(frozen=True)
class AdnStatus:
    """One kind of ADN answer: HTTP status, StatusProcessamento and the error it carries, if any."""

    http_status: int
    processing: str
    error: tuple[str, str] | None = None  # (Codigo, Descricao)


FOUND: Final = AdnStatus(200, "DOCUMENTOS_LOCALIZADOS")
EMPTY: Final = AdnStatus(404, "NENHUM_DOCUMENTO_LOCALIZADO", ("E2220", "Nenhum documento localizado."))
BAD_NSU: Final = AdnStatus(400, "REJEICAO", ("SIM0400", "NSU informado invalido: informe um numero inteiro."))
NOT_YOURS: Final = AdnStatus(
    403, "REJEICAO", ("SIM0403", "O CNPJ consultado nao pertence a raiz de CNPJ do certificado digital.")
)


def handler(engine: DistributionEngine) -> Callable[[Request, str], Response]:
    """The handler of ``/contribuintes/DFe/{NSU}``; it receives the request and the NSU text."""

    def handle(request: Request, nsu_text: str) -> Response:
        certificate = request.certificate_cnpj or ""
        cnpj = request.query.get("cnpjConsulta") or certificate
        if not certificate or not same_base(cnpj, certificate):
            engine.record(
                Service.ADN_DIST, cnpj, Code.CNPJ_BASE_MISMATCH, f"certificate of {certificate or 'nobody'}"
            )
            return _answer(engine, NOT_YOURS, [])
        if not nsu_text.isdigit():
            engine.record(Service.ADN_DIST, cnpj, Code.SCHEMA_INVALID, f"NSU {nsu_text!r}")
            return _answer(engine, BAD_NSU, [])
        with engine.lock:
            log = engine.log(Service.ADN_DIST, cnpj)
            nsu = int(nsu_text)
            if request.query.get("lote", "").lower() == "true":
                items = log.after(nsu, not_before=_BEGINNING, limit=engine.policy.batch_limit)
            else:
                items = [item for item in (log.get(nsu),) if item is not None]
        return _answer(engine, FOUND if items else EMPTY, items)

    return handle


def placeholder(engine: DistributionEngine) -> Response:
    """An answer that never touched the queues, for faults that strike before processing."""
    return _answer(engine, EMPTY, [])


def _answer(engine: DistributionEngine, status: AdnStatus, items: Sequence[Item]) -> Response:
    errors = (
        []
        if status.error is None
        else [{"Codigo": status.error[0], "Descricao": status.error[1], "Complemento": None}]
    )
    body: dict[str, Any] = {
        "StatusProcessamento": status.processing,
        "LoteDFe": [_entry(item) for item in items],
        "Alertas": [],
        "Erros": errors,
        "TipoAmbiente": _ENVIRONMENTS[engine.environment],
        "VersaoAplicativo": VERSION,
        "DataHoraProcessamento": _timestamp(engine.clock.now()),
    }
    return Response(status.http_status, "application/json; charset=utf-8", json.dumps(body).encode())


def _entry(item: Item) -> dict[str, Any]:
    return {
        "NSU": item.nsu,
        "ChaveAcesso": item.key,
        "TipoDocumento": DOCUMENT_TYPES.get(item.schema, "NENHUM"),
        "ArquivoXml": item.doczip,
        "DataHoraGeracao": _timestamp(item.available_at),
    }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(BRASILIA).replace(microsecond=0).isoformat()
