"""``/documents/{id}/manifestacao``: the recipient's conclusive events about an NF-e, sent to SEFAZ."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
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


@router.post(
    "/documents/<document_id>/manifestacao",
    tags=["documents"],
    responses={
        **responses(403, 404, 409),
        202: {
            "description": "Queued for the company's A3 agent",
            "content": {"application/json": {"model": ManifestacaoResult}},
        },
    },
)
def send_manifestacao(
    ctx: Ctx, docs: Docs, sender: Sender, document_id: DocumentId, body: ManifestacaoRequest
) -> Response[ManifestacaoResult]:
    """Confirm, disown or declare not carried out an NF-e addressed to the company (operators).

    Within 180 days of its issue; nao_realizada needs a 15-255 character justificativa. With an
    A1 the answer is SEFAZ's: registered, already registered, or a 422 quoting SEFAZ's refusal.
    An A3 company's is queued for its agent (202, outcome QUEUED) and sent by the NF-e run
    started at once; SEFAZ's answer then shows in the document's events.
    """
    from fiscal_core.api import manifestacao

    result = manifestacao.manifestar(ctx, docs, sender, document_id, body)
    return Response(
        status_code=202 if result.outcome == "QUEUED" else 200,
        content_type="application/json",
        body=result,
    )
