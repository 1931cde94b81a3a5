"""Manifestação do destinatário from the API: the conclusive events a user sends about an NF-e.

Confirmação da Operação, Desconhecimento da Operação and Operação não Realizada (with its 15 to
255 character justification) apply to an NF-e (model 55) addressed to the company, within 180
days of its issue. The event is signed with the company's A1 and sent to the Ambiente Nacional;
the answer is SEFAZ's: a registered event (135/136) is stored with its procEventoNFe and sets the
document's manifestação; 573 means it was already registered and is recorded so (without XML,
as the automatic Ciência does); any other answer is a 422 that quotes SEFAZ.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final

from fiscal_core.api.context import RequestContext
from fiscal_core.api.documents import visible_document
from fiscal_core.api.documents_ids import document_id
from fiscal_core.api.documents_services import DocumentServices
from fiscal_core.api.manifestacao_services import ManifestacaoServices
from fiscal_core.api.models.manifestacao import ManifestacaoRequest, ManifestacaoResult
from fiscal_core.api.problems import ApiError, Conflict, DependencyUnavailable
from fiscal_core.api.roles import company_for
from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.errors import RequestRejectedLocally, SefazError
from fiscal_core.sefaz.evento import Manifestacao as EventKind
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult, EventResult
from fiscal_core.storage.companies import CompanyRecord, CompanyRole
from fiscal_core.storage.records import Direction, DocType, FiscalDocument, FiscalEvent, Manifestacao
from fiscal_core.sync.errors import CredentialProblem, RetryableSyncError
from fiscal_core.sync.items import StoredObject
from fiscal_core.sync.object_keys import event_object_key

# Ajuste SINIEF 07/05 (cláusula décima quinta-A): conclusive events within 180 days.
CONCLUSIVE_DEADLINE: Final = timedelta(days=180)
_KINDS: Final[dict[str, tuple[EventKind, Manifestacao]]] = {
    "confirmacao": (EventKind.CONFIRMACAO, Manifestacao.CONFIRMADA),
    "desconhecimento": (EventKind.DESCONHECIMENTO, Manifestacao.DESCONHECIDA),
    "nao_realizada": (EventKind.NAO_REALIZADA, Manifestacao.NAO_REALIZADA),
}
_NFE_MODEL: Final = "55"


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
    """Send a conclusive manifestação about an NF-e the company received (operators); audited."""
    doc = visible_document(ctx, docs.repository, doc_id)
    company = company_for(ctx, doc.company_id, CompanyRole.OPERATOR, "send a manifestação")
    kind, effect = _KINDS[body.type]
    access_key = _manifestable(doc, ctx.now)
    event = ManifestacaoEvent(access_key, kind, _justificativa(body))
    sent_at = ctx.now
    result = _send(sender, company, event)
    answer = _answer(result, event)
    details = {"type": body.type, "cstat": answer.outcome.cstat, "protocol": answer.protocol}
    if answer.outcome.category not in (Category.REGISTERED, Category.DUPLICATE):
        ctx.audit("document.manifestacao_refused", "document", doc_id, details, company_id=doc.company_id)
        raise SefazRejected(_quote(answer.outcome.cstat, answer.outcome.xmotivo, answer.outcome.hint))
    registered = answer.outcome.category is Category.REGISTERED
    xml = _store_xml(docs, doc, kind, answer.proc_evento, sent_at) if registered else None
    docs.repository.put_event(_event(doc, company, kind, effect, answer, xml, sent_at, ctx.now))
    ctx.audit("document.manifestacao", "document", doc_id, details, company_id=doc.company_id)
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


def _manifestable(doc: FiscalDocument, now: datetime) -> str:
    """The NF-e's access key, if a recipient may still send a conclusive event about it."""
    key = doc.access_key or ""
    if doc.doc_type is not DocType.NFE or len(key) != 44 or key[20:22] != _NFE_MODEL:
        raise InvalidValue("document_id", "a manifestação applies only to an NF-e (model 55)")
    if doc.direction is not Direction.IN:
        raise InvalidValue(
            "document_id",
            "a manifestação is sent by the recipient: this NF-e is not addressed to the company",
        )
    if now - doc.issued_at > CONCLUSIVE_DEADLINE:
        raise InvalidValue(
            "type",
            f"prazo expirado: conclusive manifestações must be sent within 180 days of the issue date "
            f"({doc.issued_at:%d/%m/%Y}); SEFAZ would refuse it",
        )
    return key


def _justificativa(body: ManifestacaoRequest) -> str | None:
    """The justification, checked as SEFAZ's schema will check it (422 naming the field)."""
    if body.type != "nao_realizada":
        if body.justificativa is not None:
            raise InvalidValue("justificativa", "only nao_realizada carries a justification")
        return None
    text = " ".join((body.justificativa or "").split())
    if not 15 <= len(text) <= 255:
        raise InvalidValue("justificativa", f"nao_realizada needs 15 to 255 characters, got {len(text)}")
    return text


def _send(sender: ManifestacaoServices, company: CompanyRecord, event: ManifestacaoEvent) -> EventLotResult:
    try:
        return sender.manifestor(company).manifestar(company.cnpj, [event])
    except CredentialProblem as exc:
        raise Conflict(str(exc)) from exc
    except RequestRejectedLocally:
        raise  # the lot broke SEFAZ's schema: a bug of ours (500, logged)
    except (SefazError, RetryableSyncError) as exc:
        raise DependencyUnavailable(f"SEFAZ RecepcaoEvento: {exc}") from exc


def _answer(result: EventLotResult, event: ManifestacaoEvent) -> EventResult:
    """The answer about ``event``; SefazRejected when the lot itself was refused."""
    if not result.outcome.ok:
        raise SefazRejected(_quote(result.outcome.cstat, result.outcome.xmotivo, result.outcome.hint))
    for answer in result.events:
        if answer.chave in (None, event.chave) and answer.tp_evento in (None, event.tipo.tp_evento):
            return answer
    raise DependencyUnavailable("SEFAZ processed the lot but did not answer about its event")


def _quote(cstat: str, xmotivo: str, hint: str) -> str:
    return f"SEFAZ answered {cstat} ({xmotivo}): {hint}."


def _store_xml(
    docs: DocumentServices, doc: FiscalDocument, kind: EventKind, proc: bytes | None, sent_at: datetime
) -> StoredObject | None:
    """The registered event's procEventoNFe, written next to the document's other events."""
    if proc is None:
        return None
    key = event_object_key(
        doc.account_id, doc.company_id, doc.doc_type, sent_at, doc.access_key or "", f"{kind.tp_evento}#001"
    )
    xml = StoredObject(key, proc, hashlib.sha256(proc).hexdigest())
    docs.objects.put_xml([xml])
    return xml


def _event(
    doc: FiscalDocument,
    company: CompanyRecord,
    kind: EventKind,
    effect: Manifestacao,
    answer: EventResult,
    xml: StoredObject | None,
    sent_at: datetime,
    now: datetime,
) -> FiscalEvent:
    return FiscalEvent(
        account_id=doc.account_id,
        company_id=doc.company_id,
        family=doc.family,
        doc_type=doc.doc_type,
        type_code=kind.tp_evento,
        description=kind.description,
        seq=1,
        event_at=answer.registered_at or sent_at,
        access_key=doc.access_key,
        protocol=answer.protocol,
        author_doc=company.cnpj,
        manifestacao_effect=effect,
        s3_key=None if xml is None else xml.key,
        sha256=None if xml is None else xml.sha256,
        received_at=now,
    )
