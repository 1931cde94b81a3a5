"""Whether a company's A3 agent is reachable, and since when it is not: for the sync and the API.

The sync's failure message ("agent offline since T") and the agents list both read this. An
agent counts as online while its connection item exists and its last heartbeat is recent
(fiscal_core.storage.agents.ONLINE_WINDOW); the item alone is not enough, as DynamoDB's TTL
removes stale items late.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fiscal_core.storage.agents import AgentRecord, AgentRepository, ConnectionRecord, ConnectionRepository
from fiscal_core.storage.attributes import utc_now


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """The state of the best agent a company has (an online one if any, else the last seen)."""

    paired: bool  # some active agent serves the company
    online: bool
    agent_id: str | None = None
    last_heartbeat_at: datetime | None = None
    last_seen_at: datetime | None = None  # last message, or when its connection closed
    agent_version: str | None = None
    machine: str | None = None
    token_ready: bool | None = None

    def describe(self) -> str:
        """A sentence for a person: what the agent's state means for the company."""
        if not self.paired:
            return "no FiscalMix agent is paired for this company"
        if self.online:
            return f"agent online on {self.machine or 'an unknown machine'}"
        if self.last_seen_at is None:
            return "agent paired but never connected"
        return f"agent offline since {self.last_seen_at.isoformat(timespec='seconds')}"


def agent_status(agent: AgentRecord, connection: ConnectionRecord | None, now: datetime) -> AgentStatus:
    """The status of one agent, given its connection item (or None)."""
    online = agent.active and connection is not None and connection.online(now)
    return AgentStatus(
        paired=agent.active,
        online=online,
        agent_id=agent.agent_id,
        last_heartbeat_at=connection.last_heartbeat_at if connection is not None else None,
        last_seen_at=agent.last_seen_at,
        agent_version=(
            connection.agent_version if connection and connection.agent_version else agent.agent_version
        ),
        machine=(connection.machine if connection and connection.machine else agent.machine),
        token_ready=(connection.token_ready if online and connection is not None else agent.token_ready),
    )


def status_for_company(
    account_id: str,
    company_id: str,
    *,
    clock: Callable[[], datetime] = utc_now,
    agents: AgentRepository | None = None,
    connections: ConnectionRepository | None = None,
) -> AgentStatus:
    """The company's agent status; tables must be bound (``bind_tables``) as for any repository."""
    now = clock()
    agents = agents or AgentRepository(clock)
    connections = connections or ConnectionRepository(clock)
    active = [a for a in agents.for_company(account_id, company_id) if a.active]
    if not active:
        return AgentStatus(paired=False, online=False)
    by_agent = {c.agent_id: c for c in connections.for_account(account_id)}
    statuses = [agent_status(a, by_agent.get(a.agent_id), now) for a in active]
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    return max(statuses, key=lambda s: (s.online, s.last_seen_at or epoch))
