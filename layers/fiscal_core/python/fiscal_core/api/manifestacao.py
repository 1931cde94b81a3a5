"""Manifestação do destinatário from the API: the conclusive events a user sends about an NF-e.

Confirmação da Operação, Desconhecimento da Operação and Operação não Realizada (with its 15 to
255 character justification) apply to an NF-e (model 55) addressed to the company, within 180
days of its issue. The event is signed with the company's A1 and sent to the Ambiente Nacional;
the answer is SEFAZ's: a registered event (135/136) is stored with its procEventoNFe and sets the
document's manifestação; 573 means it was already registered and is recorded so (without XML,
as the automatic Ciência does); any other answer is a 422 that quotes SEFAZ. A company whose
certificate is an A3 signs through its agent, which a request cannot wait for: the manifestação
is queued and an NF-e run started to send it (fiscal_core.sync.queued_manifestacoes).
"""

from __future__ import annotations

from fiscal_core.api.context import RequestContext
from fiscal_core.api.documents import visible_document
from fiscal_core.api.documents_ids import document_id
from fiscal_core.api.documents_services import DocumentServices
from fiscal_core.api.manifestacao_services import ManifestacaoServices
from fiscal_core.api.models.manifestacao import ManifestacaoRequest, ManifestacaoResult
from fiscal_core.api.problems import ApiError, Conflict, DependencyUnavailable
from fiscal_core.api.roles import company_for
from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.errors import RequestRejectedLocally, SefazError
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult, EventResult
from fiscal_core.storage.companies import CompanyRecord, CompanyRole
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.records import Family, FiscalDocument
from fiscal_core.sync.contract import Scope, SyncState, Trigger
from fiscal_core.sync.errors import CredentialProblem, RetryableSyncError, ThroughAgentOnly
from fiscal_core.sync.event_lots import answer_about
from fiscal_core.sync.manifestacao_records import (
    CONCLUSIVE,
    event_object,
    justificativa,
    manifestable,
    manifestacao_event,
    quote,
)
from fiscal_core.sync.queued_manifestacoes import (
    AUDIT_REFUSED,
    AUDIT_SENT,
    ManifestacaoQueue,
    QueuedManifestacao,
)


class SefazRejected(ApiError):
    """SEFAZ refused the manifestação; the detail quotes its cStat and xMotivo."""

    status = 422
    slug = "sefaz-rejected"
    title = "Refused by SEFAZ"


def manifestar(
    ctx: RequestContext,
    docs: DocumentServices,
    sender: ManifestacaoServices,
    doc_id: str,
    body: ManifestacaoRequest,
) -> ManifestacaoResult:
    """Send a conclusive manifestação about an NF-e the company received (operators); audited.

    An A3 company's is queued for its agent instead (outcome QUEUED, the route answers 202).
    """
    doc = visible_document(ctx, docs.repository, doc_id)
    company = company_for(ctx, doc.company_id, CompanyRole.OPERATOR, "send a manifestação")
    kind = CONCLUSIVE[body.type]
    access_key = manifestable(doc, ctx.now)
    event = ManifestacaoEvent(access_key, kind, justificativa(body.type, body.justificativa))
    sent_at = ctx.now
    try:
        result = _send(sender, company, event)
    except ThroughAgentOnly:
        return _queue(ctx, docs, sender, doc, body, event)
    answer = _answer(result, event)
    details = {"type": body.type, "cstat": answer.outcome.cstat, "protocol": answer.protocol}
    if answer.outcome.category not in (Category.REGISTERED, Category.DUPLICATE):
        ctx.audit(AUDIT_REFUSED, "document", doc_id, details, company_id=doc.company_id)
        raise SefazRejected(f"{quote(answer.outcome)}.")
    registered = answer.outcome.category is Category.REGISTERED
    xml = None
    if registered and answer.proc_evento is not None:
        xml = event_object(doc, kind, answer.proc_evento, sent_at)
        docs.objects.put_xml([xml])
    docs.repository.put_event(
        manifestacao_event(
            doc, kind, protocol=answer.protocol, xml=xml, event_at=answer.registered_at or sent_at,
            received_at=ctx.now,
        )
    )  # fmt: skip
    ctx.audit(AUDIT_SENT, "document", doc_id, details, company_id=doc.company_id)
    return ManifestacaoResult(
        document_id=document_id(doc),
        type=body.type,
        outcome="REGISTERED" if registered else "ALREADY_REGISTERED",
        cstat=answer.outcome.cstat,
        xmotivo=answer.outcome.xmotivo,
        protocol=answer.protocol,
        registered_at=answer.registered_at,
        message=(
            f"{kind.description}: registered by SEFAZ."
            if registered
            else f"{kind.description} was already registered for this NF-e (by FiscalMix or another system)."
        ),
    )


def _queue(
    ctx: RequestContext,
    docs: DocumentServices,
    sender: ManifestacaoServices,
    doc: FiscalDocument,
    body: ManifestacaoRequest,
    event: ManifestacaoEvent,
) -> ManifestacaoResult:
    """Queue an A3 company's manifestação for its agent and start the NF-e run that sends it."""
    request = QueuedManifestacao(
        access_key=event.chave, type=body.type, justificativa=event.justificativa,
        requested_by=ctx.user.user_id, requested_at=ctx.now,
    )  # fmt: skip
    ManifestacaoQueue(docs.objects).put(doc.account_id, doc.company_id, request)
    agent = sender.agent_status(doc.account_id, doc.company_id)
    what = f"{event.tipo.description}: queued for the company's FiscalMix agent, whose A3 token signs it"
    if agent is not None and not agent.online:
        # A run now would only wait for the agent and fail: the scheduled runs send it once it is back.
        message = (
            f"{what}, but {agent.describe()}. It goes with the first scheduled NF-e sync once the agent "
            "is online: start it on the computer where the token is plugged in."
        )
        execution = None
    else:
        execution = f"manifestacao-{new_sortable_id(ctx.now).lower()}"
        # Started even while distNSU must wait: a run of this scope asks nothing of the distribution.
        # Should one be running, this execution skips and the running one sends it before it ends.
        sender.starter().start(
            execution,
            SyncState(
                account_id=doc.account_id, company_id=doc.company_id, family=Family.NFE,
                trigger=Trigger.USER, user_id=ctx.user.user_id, lease_owner=execution, scope=Scope.QUEUED,
            ),
        )  # fmt: skip
        message = (
            f"{what}. The NF-e sync started now sends it; SEFAZ's answer then shows in the document's "
            "events, and a refusal in the sync run and the audit log."
        )
    details = {"type": body.type, "execution": execution, "agent": agent.describe() if agent else None}
    ctx.audit(
        "document.manifestacao_queued", "document", document_id(doc), details, company_id=doc.company_id
    )
    return ManifestacaoResult(
        document_id=document_id(doc),
        type=body.type,
        outcome="QUEUED",
        cstat=None,
        xmotivo=None,
        protocol=None,
        registered_at=None,
        message=message,
    )


def _send(sender: ManifestacaoServices, company: CompanyRecord, event: ManifestacaoEvent) -> EventLotResult:
    try:
        return sender.manifestor(company).manifestar(company.cnpj, [event])
    except ThroughAgentOnly:
        raise
    except CredentialProblem as exc:
        raise Conflict(str(exc)) from exc
    except RequestRejectedLocally:
        raise  # the lot broke SEFAZ's schema: a bug of ours (500, logged)
    except (SefazError, RetryableSyncError) as exc:
        raise DependencyUnavailable(f"SEFAZ RecepcaoEvento: {exc}") from exc


def _answer(result: EventLotResult, event: ManifestacaoEvent) -> EventResult:
    """The answer about ``event``; SefazRejected when the lot itself was refused."""
    if not result.outcome.ok:
        raise SefazRejected(f"{quote(result.outcome)}.")
    answer = answer_about(result, event)
    if answer is None:
        raise DependencyUnavailable("SEFAZ processed the lot but did not answer about its event")
    return answer
