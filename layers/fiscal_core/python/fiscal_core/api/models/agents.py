"""Bodies of the agents resource: a pairing code entered by a user, and an agent as shown."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr

from fiscal_core.api.models.identity import Request
from fiscal_core.model import Model


class PairingClaim(Request):
    """The code the agent shows (``fiscalmix-agent pair``): 8 characters, valid 10 minutes, once.

    A SecretStr: until it is used, whoever holds the code can pair their agent.
    """

    code: SecretStr = Field(
        min_length=1, max_length=32, description="As shown; case, spaces and dashes do not matter."
    )


class AgentOut(Model):
    """A paired agent: where it runs, whether it is reachable; never its credential."""

    agent_id: str
    status: str = Field(description="ACTIVE or REVOKED.")
    online: bool = Field(description="Connected and heartbeating within the last 11 minutes.")
    last_heartbeat_at: datetime | None = None
    last_seen_at: datetime | None = Field(default=None, description="Last message, or when it disconnected.")
    agent_version: str | None = None
    machine: str | None = Field(default=None, description="Host name and operating system.")
    token_ready: bool | None = Field(default=None, description="Whether the token was present and logged in.")
    certificate_ids: list[str] = Field(default=[], description="A3 certificates on its token.")
    paired_by: str
    paired_at: datetime
    revoked_at: datetime | None = None


class AgentList(Model):
    """A company's agents, the most recently paired first."""

    items: list[AgentOut]
