"""A3 agents of a company: pair one with the code it shows, list them with their state, revoke one.

The bridge itself (fiscal_core.bridge.runtime) is loaded on the first agents request, not when
the API starts: most API cold starts never pair an agent. Pairing codes are secrets until used:
never logged, never in the audit log; the audit records who paired which agent from where.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.agents import AgentList, AgentOut, PairingClaim
from fiscal_core.api.problems import ApiError, DependencyUnavailable, NotFound
from fiscal_core.api.roles import company_for
from fiscal_core.bridge.errors import BridgeUnavailable
from fiscal_core.bridge.status import agent_status
from fiscal_core.storage.agents import AgentRecord, ConnectionRecord, PairingRefused
from fiscal_core.storage.companies import CompanyRole

if TYPE_CHECKING:
    from fiscal_core.bridge.runtime import Bridge

_AGENT_ID: Final = re.compile(r"agt_[0-9A-Z]{26}")
_REFUSALS: Final = {
    "malformed": "A pairing code has 8 letters and digits, as the agent shows it (for example K7QH3MZP).",
    "unknown": "No agent is showing this pairing code. Check the code on the agent's screen, or run "
    "`fiscalmix-agent pair` again for a new one.",
    "expired": "This pairing code expired (codes last 10 minutes). Run `fiscalmix-agent pair` again "
    "for a new code.",
    "used": "This pairing code was already used; a code pairs one agent once. Run `fiscalmix-agent "
    "pair` again for a new code.",
    "gone": "The agent that showed this code is no longer connected, so it could not be paired. Run "
    "`fiscalmix-agent pair` again for a new code.",
}


class PairingCodeRejected(ApiError):
    """A pairing code that cannot pair an agent: wrong, expired, used, or its agent left."""

    status = 422
    slug = "pairing-code-rejected"
    title = "Pairing code rejected"


def _bridge() -> Bridge:
    from fiscal_core.bridge.runtime import get_bridge  # loaded on first use: see the docstring

    return get_bridge()


def pair(ctx: RequestContext, company_id: str, claim: PairingClaim) -> AgentOut:
    """Pair the agent showing the code with the company; it is told at once and may connect."""
    company = company_for(ctx, company_id, CompanyRole.ADMIN, "pair an A3 agent")
    try:
        agent, pairing = _bridge().pairing.claim(claim.code.get_secret_value(), company, ctx.user.user_id)
    except PairingRefused as exc:
        raise PairingCodeRejected(_REFUSALS[exc.reason]) from None
    except BridgeUnavailable as exc:
        raise DependencyUnavailable(str(exc)) from exc
    details = {"agent_ip": pairing.source_ip, "agent_user_agent": pairing.user_agent, "cnpj": company.cnpj}
    ctx.audit("agent.pair", "agent", agent.agent_id, details, company_id=company_id)
    return agent_out(agent, None, ctx)


def list_agents(ctx: RequestContext, company_id: str) -> AgentList:
    """The company's agents (revoked ones too), with whether each is online now."""
    company_for(ctx, company_id, CompanyRole.VIEWER, "see its agents")
    bridge = _bridge()
    agents = bridge.agents.for_company(ctx.account_id, company_id)
    connections = {c.agent_id: c for c in bridge.connections.for_account(ctx.account_id)} if agents else {}
    return AgentList(items=[agent_out(a, connections.get(a.agent_id), ctx) for a in agents])


def revoke(ctx: RequestContext, company_id: str, agent_id: str) -> None:
    """Revoke the agent: cut off at once, never let back in; its A3 certificates revoked; audited."""
    company_for(ctx, company_id, CompanyRole.ADMIN, "revoke its agents")
    if not _AGENT_ID.fullmatch(agent_id):
        raise NotFound("agent")
    bridge = _bridge()
    agent = bridge.agents.find(ctx.account_id, agent_id)
    if agent is None or company_id not in agent.company_ids:
        raise NotFound("agent")
    try:
        certificates = bridge.revocation.revoke(agent)
    except BridgeUnavailable as exc:
        raise DependencyUnavailable(str(exc)) from exc
    details = {"was": agent.status, "certificates": [c.fingerprint for c in certificates]}
    ctx.audit("agent.revoke", "agent", agent_id, details, company_id=company_id)


def agent_out(agent: AgentRecord, connection: ConnectionRecord | None, ctx: RequestContext) -> AgentOut:
    """An agent as the API shows it."""
    state = agent_status(agent, connection, ctx.now)
    return AgentOut(
        agent_id=agent.agent_id,
        status=agent.status,
        online=state.online,
        last_heartbeat_at=state.last_heartbeat_at,
        last_seen_at=agent.last_seen_at,
        agent_version=state.agent_version,
        machine=state.machine,
        token_ready=state.token_ready,
        certificate_ids=list(agent.certificate_ids),
        paired_by=agent.paired_by,
        paired_at=agent.paired_at,
        revoked_at=agent.revoked_at,
    )
