"""``/documents/{id}/manifestacao``: the recipient's conclusive events about an NF-e, sent to SEFAZ."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.documents_services import DocumentServices, get_document_services
from fiscal_core.api.manifestacao_services import ManifestacaoServices, get_manifestacao_services
from fiscal_core.api.models.manifestacao import ManifestacaoRequest, ManifestacaoResult
from fiscal_core.api.openapi import responses
from functions.api.router import resource_router

router = resource_router()
Docs = Annotated[DocumentServices, Depends(get_document_services)]
Sender = Annotated[ManifestacaoServices, Depends(get_manifestacao_services)]
DocumentId = Annotated[
    str, Path(min_length=3, max_length=300, description="<company_id>.<access key>, as the list gives it.")
]


@router.post("/documents/<document_id>/manifestacao", tags=["documents"], responses=responses(403, 404, 409))
def send_manifestacao(
    ctx: Ctx, docs: Docs, sender: Sender, document_id: DocumentId, body: ManifestacaoRequest
) -> ManifestacaoResult:
    """Confirm, disown or declare not carried out an NF-e addressed to the company (operators).

    Within 180 days of its issue; nao_realizada needs a 15-255 character justificativa. The
    answer is SEFAZ's: registered, already registered, or a 422 quoting SEFAZ's refusal.
    """
    from fiscal_core.api import manifestacao

    return manifestacao.manifestar(ctx, docs, sender, document_id, body)
