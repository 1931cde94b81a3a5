"""Revoking an agent: it can no longer connect, its connection is closed now, its A3 certificates
are revoked with it (the company's sync stops using them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fiscal_core.bridge.certificates import use_best_certificate
from fiscal_core.bridge.channel import AgentChannel
from fiscal_core.storage.agents import AgentRecord, AgentRepository, ConnectionRepository
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.companies import CompanyRepository


class Revocation:
    """Cuts an agent off."""

    def __init__(
        self,
        agents: AgentRepository,
        connections: ConnectionRepository,
        certificates: CertificateRepository,
        companies: CompanyRepository,
        channel: AgentChannel,
        clock: Callable[[], datetime],
    ) -> None:
        self._agents = agents
        self._connections = connections
        self._certificates = certificates
        self._companies = companies
        self._channel = channel
        self._clock = clock

    def revoke(self, agent: AgentRecord) -> list[CertificateRecord]:
        """Revoke the agent, close its connection, revoke its A3 certificates (which it returns).

        Safe to repeat: an agent already revoked is closed and cleaned again.
        """
        self._agents.revoke(agent.account_id, agent.agent_id)
        connection = self._connections.for_agent(agent.account_id, agent.agent_id)
        if connection is not None:
            # Status first, then the close: a reconnect racing the close is refused at $connect.
            self._connections.delete(agent.account_id, agent.agent_id, connection.connection_id)
            self._channel.close(connection.connection_id)
        revoked = []
        now = self._clock()
        for company_id in agent.company_ids:
            certificates = self._certificates.for_company(agent.account_id, company_id)
            for certificate in certificates:
                if (
                    certificate.kind == "A3"
                    and certificate.agent_id == agent.agent_id
                    and certificate.status == "ACTIVE"
                ):
                    self._certificates.revoke(agent.account_id, certificate.certificate_id, now)
                    revoked.append(certificate)
            if revoked:
                company = self._companies.get(agent.account_id, company_id)
                use_best_certificate(self._certificates, self._companies, company, now)
        return revoked
