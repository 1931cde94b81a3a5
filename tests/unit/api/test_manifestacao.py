"""POST /documents/{id}/manifestacao through the resolver, over moto, with a fake SEFAZ."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest

from fiscal_core.api.manifestacao_services import (
    ManifestacaoServices,
    _sefaz_wiring,
    get_manifestacao_services,
)
from fiscal_core.api.problems import DependencyUnavailable, problem_for
from fiscal_core.api.services import Services
from fiscal_core.bridge.status import AgentStatus
from fiscal_core.sefaz.cstat import EVENT_LOT_RULES, EVENT_RULES, classify
from fiscal_core.sefaz.errors import ConnectionFailed
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult, EventResult
from fiscal_core.settings import (
    ENV_DOCUMENTS_BUCKET,
    ENV_EXPORTS_BUCKET,
    ENV_KMS_KEY_ID,
    ENV_SEFAZ_CA_FILE,
    ENV_TABLE_PREFIX,
    Settings,
)
from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Family, Manifestacao
from fiscal_core.sync.contract import Scope, Trigger
from fiscal_core.sync.errors import CredentialProblem, ThroughAgentOnly
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.queued_manifestacoes import ManifestacaoQueue
from functions.api.handler import app
from local.fixtures.documents import proc_nfe
from tests.unit.api.conftest import REGION
from tests.unit.api.test_documents_api import ACME, BUCKET, SUPPLIER, T0, World, bucket, summary, world
from tests.unit.api.test_sync_routes import FakeStarter

__all__ = ["bucket", "world"]  # fixtures
NOW = T0 + timedelta(days=5)
PROC = b"<procEventoNFe/>"


@dataclass
class FakeSefaz:
    """RecepcaoEvento answering every event with ``cstat`` (lot 128 unless ``lot`` says otherwise)."""

    cstat: str = "135"
    lot: str = "128"
    error: Exception | None = None
    sent: list[tuple[str, ManifestacaoEvent]] = field(default_factory=list)

    def manifestar(self, cnpj: str, events: Sequence[ManifestacaoEvent]) -> EventLotResult:
        if self.error is not None:
            raise self.error
        self.sent += [(cnpj, e) for e in events]
        registered = self.cstat in ("135", "136")
        answers = tuple(
            EventResult(
                chave=e.chave,
                tp_evento=e.tipo.tp_evento,
                n_seq_evento=e.n_seq_evento,
                outcome=classify(EVENT_RULES, self.cstat, f"motivo {self.cstat}"),
                protocol="891260000000001" if registered else None,
                registered_at=NOW if registered else None,
                ret_evento=b"<retEvento/>",
                proc_evento=PROC if registered else None,
            )
            for e in events
        )
        return EventLotResult(
            id_lote="1", tp_amb="2", ver_aplic="AN", outcome=classify(EVENT_LOT_RULES, self.lot, "lote"),
            events=answers if self.lot == "128" else (),
        )  # fmt: skip


@pytest.fixture
def starter() -> FakeStarter:
    return FakeStarter()


@pytest.fixture
def agent() -> list[AgentStatus]:
    """The company's agent as the bridge sees it (online unless a test says otherwise)."""
    return [AgentStatus(paired=True, online=True, agent_id="agt-1", machine="FINANCEIRO-01")]


@pytest.fixture
def sefaz(world: World, services: Services, starter: FakeStarter, agent: list[AgentStatus]) -> FakeSefaz:
    fake = FakeSefaz()
    companies: list[CompanyRecord] = []

    def manifestor(company: CompanyRecord) -> FakeSefaz:
        companies.append(company)
        return fake

    app.dependency_overrides[get_manifestacao_services] = lambda: ManifestacaoServices(
        manifestor, starter, lambda account_id, company_id: agent[0]
    )
    services.clock = lambda: NOW
    return fake


def _post(world: World, doc_id: str, body: dict[str, Any], sub: str = "owner-a") -> Any:
    return world.call("POST", f"/documents/{doc_id}/manifestacao", sub=sub, body=body)


def _received(world: World, number: int = 1) -> str:
    doc = summary(world, number)
    return f"{doc.company_id}.{doc.access_key}"


def test_confirmacao_registered_and_stored(world: World, sefaz: FakeSefaz) -> None:
    doc_id = _received(world)
    reply = _post(world, doc_id, {"type": "confirmacao"})
    assert reply.status == 200, reply.body
    assert reply.body["outcome"] == "REGISTERED"
    assert (reply.body["cstat"], reply.body["protocol"]) == ("135", "891260000000001")
    ((cnpj, event),) = sefaz.sent
    assert cnpj == ACME.cnpj and event.tipo.tp_evento == "210200" and event.justificativa is None
    key = doc_id.split(".")[1]
    doc = DocumentRepository().get_document(world.account_a, world.company_a, access_key=key)
    assert doc is not None and doc.manifestacao is Manifestacao.CONFIRMADA
    (stored,) = DocumentRepository().list_events(world.account_a, world.company_a, doc.doc_key)
    assert stored.type_code == "210200" and stored.s3_key is not None
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=stored.s3_key)["Body"].read()
    assert body == PROC
    trail = AuditRepository().for_entity(world.account_a, "document", doc_id).items
    assert [e.action for e in trail] == ["document.manifestacao"]


def test_nao_realizada_with_justificativa(world: World, sefaz: FakeSefaz) -> None:
    reply = _post(
        world,
        _received(world),
        {"type": "nao_realizada", "justificativa": "  Mercadoria  nao foi entregue  "},
    )
    assert reply.status == 200
    ((_, event),) = sefaz.sent
    assert event.tipo.tp_evento == "210240" and event.justificativa == "Mercadoria nao foi entregue"


@pytest.mark.parametrize(
    "body",
    [
        {"type": "nao_realizada"},
        {"type": "nao_realizada", "justificativa": "curta demais"},
        {"type": "nao_realizada", "justificativa": "x" * 256},
        {"type": "confirmacao", "justificativa": "não cabe justificativa aqui"},
    ],
)
def test_justificativa_checked(world: World, sefaz: FakeSefaz, body: dict[str, Any]) -> None:
    reply = _post(world, _received(world), body)
    assert reply.status == 422
    assert [e["field"] for e in reply.body["errors"]] == ["justificativa"]
    assert sefaz.sent == []


def test_unknown_type_is_422(world: World, sefaz: FakeSefaz) -> None:
    reply = _post(world, _received(world), {"type": "ciencia"})
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "type"


def test_issued_document_is_422(world: World, sefaz: FakeSefaz) -> None:
    doc_id = world.put_xml(proc_nfe(ACME, SUPPLIER, issued_at=T0))
    reply = _post(world, doc_id, {"type": "confirmacao"})
    assert reply.status == 422 and "not addressed to the company" in reply.body["detail"]
    assert sefaz.sent == []


def test_deadline_expired_is_422(world: World, sefaz: FakeSefaz, services: Services) -> None:
    doc_id = _received(world)
    services.clock = lambda: T0 + timedelta(days=181)
    reply = _post(world, doc_id, {"type": "desconhecimento"})
    assert reply.status == 422 and "prazo expirado" in reply.body["detail"]
    assert sefaz.sent == []


def test_already_registered_573(world: World, sefaz: FakeSefaz) -> None:
    sefaz.cstat = "573"
    doc_id = _received(world)
    reply = _post(world, doc_id, {"type": "desconhecimento"})
    assert reply.status == 200
    assert reply.body["outcome"] == "ALREADY_REGISTERED" and "already registered" in reply.body["message"]
    key = doc_id.split(".")[1]
    doc = DocumentRepository().get_document(world.account_a, world.company_a, access_key=key)
    assert doc is not None and doc.manifestacao is Manifestacao.DESCONHECIDA


def test_sefaz_refusal_is_422_quoting_it(world: World, sefaz: FakeSefaz) -> None:
    sefaz.cstat = "596"
    doc_id = _received(world)
    reply = _post(world, doc_id, {"type": "confirmacao"})
    assert reply.status == 422
    assert reply.body["type"] == "/problems/sefaz-rejected" and "596" in reply.body["detail"]
    trail = AuditRepository().for_entity(world.account_a, "document", doc_id).items
    assert [e.action for e in trail] == ["document.manifestacao_refused"]


def test_lot_refused_is_422(world: World, sefaz: FakeSefaz) -> None:
    sefaz.lot = "215"
    assert _post(world, _received(world), {"type": "confirmacao"}).status == 422


def test_sefaz_unreachable_is_503_and_no_certificate_409(world: World, sefaz: FakeSefaz) -> None:
    doc_id = _received(world)
    sefaz.error = ConnectionFailed("https://an.example", "refused")
    assert _post(world, doc_id, {"type": "confirmacao"}).status == 503
    sefaz.error = CredentialProblem("ACME has no active A1 certificate. Upload one.")
    reply = _post(world, doc_id, {"type": "confirmacao"})
    assert reply.status == 409 and "A1 certificate" in reply.body["detail"]


def test_an_a3_companys_manifestacao_is_queued_for_its_agent_and_a_run_started(
    world: World, sefaz: FakeSefaz, starter: FakeStarter
) -> None:
    doc_id = _received(world)
    sefaz.error = ThroughAgentOnly("The A3 certificate of ACME is used through its FiscalMix agent.")
    body = {"type": "nao_realizada", "justificativa": "  Mercadoria   devolvida ao fornecedor "}

    reply = _post(world, doc_id, body)

    assert reply.status == 202, reply.body
    assert reply.body["outcome"] == "QUEUED" and reply.body["cstat"] is None
    assert "The NF-e sync started now sends it" in reply.body["message"]
    company_id, key = doc_id.split(".")
    queued = ManifestacaoQueue(_objects()).pending(world.account_a, company_id)
    assert [(q.access_key, q.type, q.justificativa) for q in queued] == [
        (key, "nao_realizada", "Mercadoria devolvida ao fornecedor")
    ]
    [(name, state)] = starter.started
    assert (state.family, state.scope, state.trigger, state.lease_owner) == (
        Family.NFE, Scope.QUEUED, Trigger.USER, name
    )  # fmt: skip
    assert state.user_id == queued[0].requested_by and (state.account_id, state.company_id) == (
        world.account_a, company_id
    )  # fmt: skip
    trail = AuditRepository().for_entity(world.account_a, "document", doc_id).items
    assert [e.action for e in trail] == ["document.manifestacao_queued"]
    # Nothing is recorded on the document until SEFAZ answers the run.
    doc = DocumentRepository().get_document(world.account_a, company_id, access_key=key)
    assert doc is not None and doc.manifestacao is None and not doc.event_ids


def test_with_its_agent_offline_the_request_waits_for_a_scheduled_run(
    world: World, sefaz: FakeSefaz, starter: FakeStarter, agent: list[AgentStatus]
) -> None:
    sefaz.error = ThroughAgentOnly("The A3 certificate of ACME is used through its FiscalMix agent.")
    agent[0] = AgentStatus(paired=True, online=False, agent_id="agt-1", last_seen_at=T0)
    doc_id = _received(world)

    reply = _post(world, doc_id, {"type": "confirmacao"})

    assert reply.status == 202 and reply.body["outcome"] == "QUEUED"
    assert f"agent offline since {T0.isoformat(timespec='seconds')}" in reply.body["message"]
    assert "first scheduled NF-e sync once the agent is online" in reply.body["message"]
    assert starter.started == []  # a run now would only wait for the agent and fail
    company_id = doc_id.split(".")[0]
    assert len(ManifestacaoQueue(_objects()).pending(world.account_a, company_id)) == 1
    [entry] = AuditRepository().for_entity(world.account_a, "document", doc_id).items
    assert entry.details["execution"] is None and "offline" in entry.details["agent"]


def test_a_request_the_queue_would_refuse_is_refused_at_once(
    world: World, sefaz: FakeSefaz, starter: FakeStarter
) -> None:
    sefaz.error = ThroughAgentOnly("The A3 certificate of ACME is used through its FiscalMix agent.")
    reply = _post(world, _received(world), {"type": "nao_realizada", "justificativa": "curta"})
    assert reply.status == 422 and "justificativa" in reply.body["detail"]
    assert starter.started == []


def _objects() -> ObjectStore:
    return ObjectStore(boto3.client("s3", region_name=REGION), BUCKET, ThreadPoolExecutor(1))


def test_viewer_cannot_and_other_account_does_not_see(world: World, sefaz: FakeSefaz) -> None:
    doc_id = _received(world)
    assert _post(world, doc_id, {"type": "confirmacao"}, sub=world.viewer).status == 403
    assert _post(world, doc_id, {"type": "confirmacao"}, sub="owner-b").status == 404
    assert _post(world, f"{world.company_b}.{doc_id.split('.')[1]}", {"type": "confirmacao"}).status == 404
    assert _post(world, "not-an-id", {"type": "confirmacao"}).status == 404
    assert sefaz.sent == []


def _settings(**sefaz: str) -> Settings:
    return Settings.model_validate(
        {
            ENV_TABLE_PREFIX: "test", ENV_DOCUMENTS_BUCKET: BUCKET, ENV_EXPORTS_BUCKET: BUCKET,
            ENV_KMS_KEY_ID: "alias/test", "AWS_REGION": REGION, **sefaz,
        }
    )  # fmt: skip


def test_a_deployment_without_the_sefaz_ca_bundle_answers_503_naming_it(tmp_path) -> None:
    missing = tmp_path / "icp-brasil.pem"
    for settings in (_settings(), _settings(**{ENV_SEFAZ_CA_FILE: str(missing)})):
        with pytest.raises(DependencyUnavailable) as refused:
            _sefaz_wiring(settings)
        assert ENV_SEFAZ_CA_FILE in str(refused.value)
        assert problem_for(refused.value, "/documents/x/manifestacao").status == 503
    missing.write_text("-----BEGIN CERTIFICATE-----\n")  # read when SEFAZ is called, not before
    assert callable(_sefaz_wiring(_settings(**{ENV_SEFAZ_CA_FILE: str(missing)})))
