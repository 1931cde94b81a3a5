"""A3 certificates as agents report them: the token's certificates become the company's.

A certificate an agent reports in ``hello`` belongs to a company the agent serves when the CNPJ
bases (the first eight digits: the same legal entity) match. It is recorded once per company
(kind A3, bound to the agent, never any key material) and kept pointing at the agent that last
reported it. One that a user revoked while this agent held it is not brought back by the same
agent; a new agent paired with the token may bring it back. The company then uses its valid
active certificate that expires last, A1 or A3, as the certificates API decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from fiscal_core.bridge.messages import ReportedCertificate
from fiscal_core.observability import logger
from fiscal_core.storage.agents import A3CertificateBinding, AgentRecord
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.companies import CompanyRecord, CompanyRepository
from fiscal_core.storage.ids import new_sortable_id

CNPJ_BASE_DIGITS = 8


class A3Registrar:
    """Creates and keeps the A3 certificate records of what agents report."""

    def __init__(
        self,
        certificates: CertificateRepository,
        companies: CompanyRepository,
        binding: A3CertificateBinding,
        clock: Callable[[], datetime],
        keep_der: Callable[[str, str, str, bytes], str] | None = None,
    ) -> None:
        self._keep_der = keep_der
        self._certificates = certificates
        self._companies = companies
        self._binding = binding
        self._clock = clock

    def register(
        self, agent: AgentRecord, reported: Sequence[ReportedCertificate], token_label: str | None
    ) -> list[str]:
        """Record the reported certificates for the agent's companies; their certificate ids."""
        ids: list[str] = []
        for company in self._companies.get_many(agent.account_id, list(agent.company_ids)):
            matching = [c for c in reported if c.cnpj and _base(c.cnpj) == _base(company.cnpj)]
            if not matching:
                continue
            existing = self._certificates.for_company(agent.account_id, company.company_id)
            for certificate in matching:
                certificate_id = self._record(agent, company, certificate, existing, token_label)
                der = certificate.der()
                if der is not None and self._keep_der is not None:
                    # The sync signs with this certificate in KeyInfo (fiscal_core.sync.credentials).
                    self._keep_der(agent.account_id, company.company_id, certificate_id, der)
                ids.append(certificate_id)
            use_best_certificate(self._certificates, self._companies, company, self._clock())
        return ids

    def _record(
        self,
        agent: AgentRecord,
        company: CompanyRecord,
        reported: ReportedCertificate,
        existing: list[CertificateRecord],
        token_label: str | None,
    ) -> str:
        same = [c for c in existing if c.kind == "A3" and c.fingerprint == reported.fingerprint_sha256]
        active = next((c for c in same if c.status == "ACTIVE"), None)
        if active is not None:
            if active.agent_id != agent.agent_id or active.token_label != token_label:
                self._binding.bind(agent.account_id, active.certificate_id, agent.agent_id, token_label)
            return active.certificate_id
        revoked_here = next((c for c in same if c.agent_id == agent.agent_id), None)
        if revoked_here is not None:
            return revoked_here.certificate_id  # a user revoked it: this agent does not revive it
        now = self._clock()
        record = CertificateRecord(
            account_id=agent.account_id, certificate_id=new_sortable_id(now), company_id=company.company_id,
            kind="A3", subject=reported.subject, issuer=reported.issuer,
            serial_number=reported.serial_number, cnpj=reported.cnpj or "",
            not_before=reported.not_before, not_after=reported.not_after,
            fingerprint=reported.fingerprint_sha256, status="ACTIVE", created_by=f"agent:{agent.agent_id}",
            created_at=now, agent_id=agent.agent_id, token_label=token_label,
        )  # fmt: skip
        self._certificates.add(record)
        logger.info(
            "A3 certificate recorded",
            extra={"company_id": company.company_id, "certificate_id": record.certificate_id},
        )
        return record.certificate_id


def use_best_certificate(
    certificates: CertificateRepository, companies: CompanyRepository, company: CompanyRecord, now: datetime
) -> None:
    """Point the company at its valid active certificate that expires last, as the certificates API does."""
    records = certificates.for_company(company.account_id, company.company_id)
    usable = [r for r in records if r.status == "ACTIVE" and r.not_before <= now < r.not_after]
    chosen = max(usable, key=lambda r: r.not_after).certificate_id if usable else None
    if chosen != company.certificate_id:
        companies.update(company.account_id, company.company_id, now, {"certificate_id": chosen})


def _base(cnpj: str) -> str:
    return cnpj[:CNPJ_BASE_DIGITS]
