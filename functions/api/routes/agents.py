"""``/companies/{company_id}/agents`` and A3 pairing: the on-prem agents that hold A3 tokens."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.agents import AgentList, AgentOut, PairingClaim
from fiscal_core.api.openapi import responses
from functions.api.router import resource_router

router = resource_router()
CompanyId = Annotated[str, Path(min_length=1, max_length=64)]
AgentId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/companies/<company_id>/certificates/a3/pair",
    tags=["agents"],
    status_code=201,
    responses=responses(403, 404, 422, success=201, description="Paired"),
)
def pair_agent(ctx: Ctx, company_id: CompanyId, body: PairingClaim) -> AgentOut:
    """Pair the agent showing this code (``fiscalmix-agent pair``) with the company's A3 token."""
    from fiscal_core.api import agents

    return agents.pair(ctx, company_id, body)


@router.get("/companies/<company_id>/agents", tags=["agents"], responses=responses(403, 404))
def list_agents(ctx: Ctx, company_id: CompanyId) -> AgentList:
    """The company's agents: online or offline, last heartbeat, version and machine."""
    from fiscal_core.api import agents

    return agents.list_agents(ctx, company_id)


@router.post(
    "/companies/<company_id>/agents/<agent_id>/revoke",
    tags=["agents"],
    responses=responses(403, 404, success=204, description="Revoked"),
)
def revoke_agent(ctx: Ctx, company_id: CompanyId, agent_id: AgentId) -> Response[None]:
    """Revoke an agent: its connection closes now, it cannot reconnect, its A3 certificates are revoked."""
    from fiscal_core.api import agents

    agents.revoke(ctx, company_id, agent_id)
    return Response(status_code=204)
