"""An A3 company's sync: every signature and SEFAZ exchange made by its agent, the logic in the cloud.

The workflow's part (send the pending calls, wait for the answers) is played by ``DeskAgent``: it
reads each call the step left in S3 and answers it as the agent would, signing with the company's
key and talking to the simulator over mutual TLS with its certificate, then the step runs again.
The whole chain with the real agent, the bridge and Step Functions is tested in tests/e2e.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from fiscal_core.bridge.calls import (
    AgentCall,
    AgentReply,
    CallAction,
    ReplyError,
    b64,
    call_body_key,
    call_key,
    certificate_der_key,
    reply_body_key,
    reply_key,
    unb64,
)
from fiscal_core.certificates import A1Certificate, load_pfx
from fiscal_core.doczip import decode_doczip
from fiscal_core.sefaz.errors import SefazError
from fiscal_core.sefaz.tls import ClientIdentity, TlsSettings
from fiscal_core.sefaz.transport import HttpRequest, HttpsTransport, send
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Direction, DocStatus, Family, Manifestacao
from fiscal_core.storage.sync_runs import RunStatus, SyncRunRepository
from fiscal_core.sync.contract import Next, Scope, SyncState, Task, Trigger
from fiscal_core.sync.notes import CursorNotes, NotesStore
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.queued_manifestacoes import ManifestacaoQueue, QueuedManifestacao
from local.demo import seed_demo_documents
from local.fixtures.certificates import company_certificate
from local.sefaz import FaultKind, Service
from tests.integration.sync.conftest import SyncPlane
from tests.integration.sync.test_sync_with_simulator import _check_everything_once

pytestmark = pytest.mark.slow
A3_CERTIFICATE_ID = "a3-token-cert"
INLINE_REPLY_LIMIT = 64 * 1024  # larger answers are uploaded to reply.body, as the agent does


@dataclass
class DeskAgent:
    """Answers the calls an A3 step left, as the agent on the company's desk would."""

    plane: SyncPlane
    a1: A1Certificate  # stands in for the token: the same key and certificate
    der_key: str
    fail_with: ReplyError | None = None
    rounds: list[list[AgentCall]] = field(default_factory=list)
    arrived: list[bytes] = field(default_factory=list)  # each docZip's XML, as answers reached the cloud

    def _object(self, key: str) -> bytes | None:
        s3, bucket = self.plane.aws.client("s3"), self.plane.aws.names.documents_bucket
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        return body

    def _put(self, key: str, body: bytes) -> None:
        self.plane.aws.client("s3").put_object(
            Bucket=self.plane.aws.names.documents_bucket, Key=key, Body=body
        )

    def answer(self, state: SyncState) -> None:
        assert state.agent is not None and state.agent.pending
        ids = (state.account_id, state.company_id)
        round_ = []
        for request_id in state.agent.pending:
            raw = self._object(call_key(*ids, request_id))
            assert raw is not None, "the step leaves its call in S3 before it stops"
            call = AgentCall.model_validate_json(raw)
            round_.append(call)
            reply = self._reply(call)
            self._put(reply_key(*ids, request_id), reply.model_dump_json().encode())
        self.rounds.append(round_)

    def _reply(self, call: AgentCall) -> AgentReply:
        reply: dict[str, object] = {
            "request_id": call.request_id, "answered_at": self.plane.sefaz.clock.now(), "agent_id": "agt-1",
        }  # fmt: skip
        if self.fail_with is not None:
            return AgentReply.model_validate({**reply, "ok": False, "error": self.fail_with})
        assert call.fingerprint == self.a1.fingerprint_sha256
        if call.action is CallAction.SIGN_XML:
            assert call.signed_info_b64 is not None
            signature = self.a1.signer().sign_pkcs1v15_sha1(unb64(call.signed_info_b64))
            return AgentReply.model_validate({**reply, "ok": True, "signature_value_b64": b64(signature)})
        assert call.method and call.url
        body = (
            unb64(call.body_b64)
            if call.body_b64 is not None
            else self._object(call_body_key(call.account_id, call.company_id, call.request_id))
        )
        assert body is not None
        transport = HttpsTransport(
            ClientIdentity.from_a1(self.a1), TlsSettings(ca_pem=self.plane.sefaz.ca_pem.decode())
        )
        try:
            response = send(transport, HttpRequest(call.method, call.url, call.headers, body))
        except SefazError as exc:  # as the agent answers a connection that failed
            failed = ReplyError(code="connection_failed", message=str(exc), retryable=True)
            return AgentReply.model_validate({**reply, "ok": False, "error": failed})
        reply |= {"ok": True, "status": response.status, "headers": dict(response.headers)}
        if response.status == 200 and b"docZip" in response.body:
            doczips = etree.fromstring(response.body).iterfind(".//{*}docZip")
            self.arrived += [decode_doczip(node.text or "") for node in doczips]
        if len(response.body) > INLINE_REPLY_LIMIT:
            self._put(reply_body_key(call.account_id, call.company_id, call.request_id), response.body)
        else:
            reply["body_b64"] = b64(response.body)
        return AgentReply.model_validate(reply)


def _drive(plane: SyncPlane, agent: DeskAgent, state: SyncState) -> SyncState:
    """The workflow: STEP until the run ends, sending agent calls and waiting as it is told."""
    for _ in range(2000):
        if state.next in {Next.FINISH, Next.SKIP}:
            return plane.task(state) if state.task is Task.FINISH else state
        if state.next is Next.AGENT:
            agent.answer(state)
        elif state.next is Next.WAIT:
            plane.sefaz.clock.advance(timedelta(seconds=state.wait_seconds))
        state = plane.task(state)
    raise AssertionError("the run did not end")


@pytest.fixture
def agent(plane: SyncPlane) -> DeskAgent:
    """The tenant's A1 revoked and its key registered as an A3 certificate behind an agent."""
    tenant = plane.tenant
    issued = company_certificate(tenant.cnpj, tenant.legal_name)
    a1 = load_pfx(issued.to_pfx("x"), "x")
    certificates = CertificateRepository()
    certificates.revoke(tenant.account_id, tenant.certificate_id, plane.sefaz.clock.now())
    der_key = certificate_der_key(tenant.account_id, tenant.company_id, A3_CERTIFICATE_ID)
    plane.aws.client("s3").put_object(
        Bucket=plane.aws.names.documents_bucket, Key=der_key, Body=a1.certificate.public_bytes(Encoding.DER)
    )
    certificates.add(
        CertificateRecord(
            account_id=tenant.account_id, certificate_id=A3_CERTIFICATE_ID, company_id=tenant.company_id,
            kind="A3", subject=a1.subject, issuer=a1.issuer, serial_number=str(a1.certificate.serial_number),
            cnpj=a1.cnpj or "", not_before=a1.not_before, not_after=a1.not_after,
            fingerprint=a1.fingerprint_sha256, status="ACTIVE", created_by="agent", created_at=a1.not_before,
            blob_s3_key=der_key, agent_id="agt-1", token_label="SoftHSM",
        )
    )  # fmt: skip
    return DeskAgent(plane, a1, der_key)


def test_an_a3_company_is_synced_exactly_once_through_its_agent(plane: SyncPlane, agent: DeskAgent) -> None:
    seeded = seed_demo_documents(plane.sefaz, plane.tenant, documents=90, nfse_documents=6, issued=2)

    for family in (Family.NFE, Family.CTE, Family.NFSE):
        end = _drive(plane, agent, plane.start(family))
        assert end.next is Next.FINISH, end.message
    plane.sefaz.clock.advance(timedelta(hours=27))
    for family in (Family.NFE, Family.CTE, Family.NFSE):
        end = _drive(plane, agent, plane.start(family))
        assert end.next is Next.FINISH, end.message

    # What stays in the bucket is the documents' XML and the certificate the agent reported.
    plane.aws.client("s3").delete_object(Bucket=plane.aws.names.documents_bucket, Key=agent.der_key)
    _check_everything_once(plane, seeded)
    calls = [c for round_ in agent.rounds for c in round_]
    exchanges = [c for c in calls if c.action is CallAction.SEFAZ_REQUEST]
    signatures = [c for c in calls if c.action is CallAction.SIGN_XML]
    # Every call SEFAZ received came through the agent, once: replays reuse the stored answers.
    served = sum(
        len(plane.sefaz.engine.log(service, plane.tenant.cnpj).items())
        for service in (Service.NFE_DIST, Service.CTE_DIST, Service.ADN_DIST)
    )
    assert served > 0 and exchanges
    assert len({c.request_id for c in calls}) == len(calls)
    # Ciência was signed on the "token", a lot's signatures in one round rather than one by one.
    assert signatures
    assert max(len(r) for r in agent.rounds if r[0].action is CallAction.SIGN_XML) > 1
    assert all(len(r) == 1 for r in agent.rounds if r[0].action is CallAction.SEFAZ_REQUEST)


def test_a_token_problem_stops_the_run_with_the_agents_words(plane: SyncPlane, agent: DeskAgent) -> None:
    seed_demo_documents(plane.sefaz, plane.tenant, documents=5, nfse_documents=0, issued=0)
    agent.fail_with = ReplyError(code="wrong_pin", message="The PIN of token SoftHSM is wrong; 2 tries left.")

    end = _drive(plane, agent, plane.start(Family.NFE))

    assert end.next is Next.FINISH
    assert end.message is not None and "2 tries left" in end.message and "A3 certificate" in end.message
    assert end.run_id is not None
    run = SyncRunRepository().get(plane.tenant.account_id, plane.tenant.company_id, end.run_id)
    assert run.status == RunStatus.FAILED
    cursor = SyncCursorRepository().get(plane.tenant.account_id, plane.tenant.company_id, Family.NFE)
    assert cursor.last_nsu == "0" * 15  # nothing moved: the page was never fetched
    assert cursor.last_error is not None and "wrong" in cursor.last_error


def test_a_retryable_agent_failure_is_asked_again(plane: SyncPlane, agent: DeskAgent) -> None:
    seed_demo_documents(plane.sefaz, plane.tenant, documents=5, nfse_documents=0, issued=0)
    agent.fail_with = ReplyError(code="connection_failed", message="SEFAZ did not answer.", retryable=True)
    state = plane.start(Family.NFE)
    state = plane.task(state)
    assert state.next is Next.AGENT
    agent.answer(state)
    state = plane.task(state)  # the client retries: a new call for the same exchange
    assert state.next is Next.AGENT and state.agent is not None
    assert len(state.agent.calls) == 2 and state.agent.pending == state.agent.calls[1:]

    agent.fail_with = None
    end = _drive(plane, agent, state)
    assert end.next is Next.FINISH, end.message
    first, second = agent.rounds[0][0], agent.rounds[1][0]
    assert first.digest == second.digest and first.request_id != second.request_id


def test_gap_filling_through_the_agent_pays_and_counts_each_query_once(
    plane: SyncPlane, agent: DeskAgent
) -> None:
    seeded = seed_demo_documents(plane.sefaz, plane.tenant, documents=30, nfse_documents=0, issued=0)
    # The first answer is lost on the way and SEFAZ moved on: its NSUs become gaps, and the
    # client's resend earns the one 656 nobody could avoid.
    plane.sefaz.faults.inject(Service.NFE_DIST, FaultKind.RESET, processed=True)
    blocked = _drive(plane, agent, plane.start(Family.NFE))
    assert blocked.next is Next.FINISH
    assert [v.cstat for v in plane.sefaz.ledger] == ["656"]
    plane.sefaz.ledger.clear()
    ids = (plane.tenant.account_id, plane.tenant.company_id)

    gaps_left = []
    for _ in range(5):
        plane.sefaz.clock.advance(timedelta(hours=1, minutes=10))
        end = _drive(plane, agent, plane.start(Family.NFE))
        assert end.next is Next.FINISH, end.message
        # Each consNSU took one unit of the hourly budget, although the step was run again
        # after each of them (its agent answers one call at a time) and replayed it.
        hour_ago = plane.sefaz.clock.now() - timedelta(hours=1)
        usage = plane.sefaz.engine.usage(Service.NFE_DIST, plane.tenant.cnpj)
        sent = [t for t in usage.single_queries if t > hour_ago]
        cursor = SyncCursorRepository().get(*ids, Family.NFE)
        taken = [t for t in (*cursor.cons_nsu_calls, *cursor.cons_chnfe_calls) if t > hour_ago]
        assert len(taken) == len(sent) > 0
        gaps_left.append(len(_notes(plane).gaps))
        if gaps_left[-1] == 0:
            break
        assert len(sent) == 20, "the hour's budget went to calls SEFAZ received, none to replays"
    assert gaps_left[-1] == 0 and len(gaps_left) > 1, gaps_left

    for family in (Family.CTE, Family.NFSE):
        assert _drive(plane, agent, plane.start(family)).next is Next.FINISH
    plane.sefaz.clock.advance(timedelta(hours=27))  # the full XMLs the Ciência released
    for family in (Family.NFE, Family.CTE, Family.NFSE):
        assert _drive(plane, agent, plane.start(family)).next is Next.FINISH
    plane.aws.client("s3").delete_object(Bucket=plane.aws.names.documents_bucket, Key=agent.der_key)
    # Each document once, and the runs' counters add up to what SEFAZ served: the replays of
    # each gap's step counted nothing twice. (The first run ended waiting out the 656.) A summary
    # filled from a gap after the stream brought its full XML upgrades nothing: count as it arrived.
    statuses = frozenset({RunStatus.SUCCEEDED, RunStatus.WAITING})
    _check_everything_once(plane, seeded, statuses, arrived=agent.arrived)


def test_a_manifestacao_queued_for_the_agent_is_signed_on_the_token_and_registered(
    plane: SyncPlane, agent: DeskAgent
) -> None:
    seed_demo_documents(plane.sefaz, plane.tenant, documents=12, nfse_documents=0, issued=0)
    assert _drive(plane, agent, plane.start(Family.NFE)).next is Next.FINISH  # caught up: distNSU waits
    ids = (plane.tenant.account_id, plane.tenant.company_id)
    summary = next(
        d for d in DocumentRepository().list_pending_summaries(*ids, limit=100).items
        if d.direction is Direction.IN and d.status is DocStatus.AUTHORIZED
    )  # fmt: skip
    key = summary.access_key or ""
    queue = ManifestacaoQueue(ObjectStore(plane.aws.client("s3"), plane.aws.names.documents_bucket, _POOL))
    gone = "3" * 44  # a request whose NF-e is not stored: refused without reaching the token
    for access_key in (key, gone):
        queue.put(*ids, QueuedManifestacao(
            access_key=access_key, type="confirmacao", requested_by=plane.tenant.user_id,
            requested_at=plane.sefaz.clock.now(),
        ))  # fmt: skip
    agent.rounds.clear()

    end = _drive(plane, agent, plane.start(Family.NFE, Trigger.USER, Scope.QUEUED))

    assert end.message == "Manifestações queued for the agent: 1 recorded by SEFAZ, 1 not.", end.message
    assert end.run_id is not None
    run = SyncRunRepository().get(*ids, end.run_id)
    # Reported by the pass that got through, though the step was replayed after each agent round.
    assert (
        run.error_summary
        == f"The Confirmacao da Operacao of NF-e {gone} was not registered: the NF-e is no longer stored."
    )
    # One round to sign on the token, one for the agent's exchange with SEFAZ; no distribution call.
    actions = [[call.action for call in round_] for round_ in agent.rounds]
    assert actions == [[CallAction.SIGN_XML], [CallAction.SEFAZ_REQUEST]]
    assert "RecepcaoEvento" in (agent.rounds[1][0].url or "")
    document = DocumentRepository().get_document(*ids, access_key=key)
    assert document is not None and document.manifestacao is Manifestacao.CONFIRMADA
    [event] = [e for e in DocumentRepository().list_events(*ids, document.doc_key) if e.type_code == "210200"]
    assert event.protocol and event.s3_key
    proc = plane.aws.client("s3").get_object(Bucket=plane.aws.names.documents_bucket, Key=event.s3_key)
    assert b"<cStat>135</cStat>" in proc["Body"].read()
    assert queue.pending(*ids) == []
    assert not plane.sefaz.ledger, plane.sefaz.ledger.describe()


_POOL = ThreadPoolExecutor(1)


def _notes(plane: SyncPlane) -> CursorNotes:
    s3, bucket = plane.aws.client("s3"), plane.aws.names.documents_bucket
    with ThreadPoolExecutor(1) as pool:
        store = NotesStore(ObjectStore(s3, bucket, pool))
        return store.load(plane.tenant.account_id, plane.tenant.company_id, Family.NFE)
