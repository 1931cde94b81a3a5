"""Claiming a pairing code: the agent showing it becomes the company's agent.

The user types the code the agent shows; the code's hash finds the pending pairing (recorded by
``$connect``), which is claimed once, conditionally, while unexpired. The new agent gets the
credential hash the pairing recorded (the credential itself never reached the cloud's storage)
and the ``paired`` message goes to the connection that waits. If that connection is gone the
pairing is undone (the agent is revoked at once) and the user is told to pair again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fiscal_core.bridge.channel import AgentChannel
from fiscal_core.bridge.secrets import normalize_code, secret_hash
from fiscal_core.observability import logger
from fiscal_core.storage.agents import (
    AgentRecord,
    AgentRepository,
    AgentStatusValue,
    PairingRecord,
    PairingRefused,
    PairingRepository,
)
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.ids import new_sortable_id


class PairingService:
    """Claims codes for companies and tells the waiting agent."""

    def __init__(
        self,
        pairings: PairingRepository,
        agents: AgentRepository,
        channel: AgentChannel,
        clock: Callable[[], datetime],
        sefaz_ca_pem: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._pairings = pairings
        self._agents = agents
        self._channel = channel
        self._clock = clock
        self._sefaz_ca_pem = sefaz_ca_pem

    def claim(
        self, typed_code: str, company: CompanyRecord, user_id: str
    ) -> tuple[AgentRecord, PairingRecord]:
        """Pair the agent showing ``typed_code`` with ``company``; PairingRefused with why not.

        Reasons: ``malformed``, ``unknown``, ``expired``, ``used``, ``gone`` (the agent left).
        """
        code = normalize_code(typed_code)
        if code is None:
            raise PairingRefused("malformed")
        pairing = self._pairings.claim(
            secret_hash(code), account_id=company.account_id, company_id=company.company_id, user_id=user_id
        )
        agent = AgentRecord(
            account_id=company.account_id, agent_id=pairing.agent_id, credential_hash=pairing.credential_hash,
            status=AgentStatusValue.ACTIVE, paired_by=user_id, paired_at=self._clock(),
            company_ids=[company.company_id], paired_from_ip=pairing.source_ip,
        )  # fmt: skip
        self._agents.create(agent)
        if not self._channel.post(pairing.connection_id, self._paired(agent, company)):
            self._agents.revoke(agent.account_id, agent.agent_id)
            logger.info(
                "pairing undone: the agent left before it was told", extra={"agent_id": agent.agent_id}
            )
            raise PairingRefused("gone")
        logger.info("agent paired", extra={"agent_id": agent.agent_id, "company_id": company.company_id})
        return agent, pairing

    def _paired(self, agent: AgentRecord, company: CompanyRecord) -> dict[str, Any]:
        message: dict[str, Any] = {
            "action": "paired",
            "id": new_sortable_id(self._clock()),
            "agent_id": agent.agent_id,
            "company": {"cnpj": company.cnpj, "name": company.legal_name},
        }
        ca_pem = self._sefaz_ca_pem()
        if ca_pem:
            message["sefaz_ca_pem"] = ca_pem
        return message
