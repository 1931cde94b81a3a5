"""Everything the worker needs, as one value: real adapters in production, fakes in unit tests.

The external edges are protocols: :class:`CredentialSource` opens a company's certificate and
:class:`Services` hands out the SEFAZ/ADN clients that present it. Production wires
:class:`~fiscal_core.sync.credentials.CredentialsProvider` and
:class:`~fiscal_core.sync.services.SefazServices` (see :mod:`fiscal_core.sync.runtime`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fiscal_core.bridge.calls import AgentCall
from fiscal_core.storage.companies import CompanyRecord, CompanyRepository
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.records import Family
from fiscal_core.sync.ciencia import AutoCiencia
from fiscal_core.sync.continuation import Continuation
from fiscal_core.sync.crash import CrashPoints
from fiscal_core.sync.credentials import AgentBooks, Credentials
from fiscal_core.sync.event_lots import Manifestor
from fiscal_core.sync.journal import PageJournal
from fiscal_core.sync.notes import NotesStore
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.page_store import PageStore
from fiscal_core.sync.policy import SyncPolicy
from fiscal_core.sync.queued_manifestacoes import QueuedManifestacoes
from fiscal_core.sync.runs import RunBook
from fiscal_core.sync.single_queries import SingleQueries, SingleQueryWork
from fiscal_core.sync.sources import DistributionSource


class CredentialSource(Protocol):
    """Opens the certificate a company's sync uses; raises CredentialProblem when it cannot."""

    def for_company(self, company: CompanyRecord, agent_books: AgentBooks | None = None) -> Credentials:
        """The company's credentials now; an A3 certificate's calls go into the step's book."""
        ...


class Services(Protocol):
    """The SEFAZ/ADN clients of one company, presenting its certificate."""

    def pages(self, family: Family, company: CompanyRecord, credentials: Credentials) -> DistributionSource:
        """The distribution queue of ``family``."""
        ...

    def single_queries(self, company: CompanyRecord, credentials: Credentials) -> SingleQueries:
        """consChNFe / consNSU of the NF-e distribution."""
        ...

    def manifestor(self, company: CompanyRecord, credentials: Credentials) -> Manifestor:
        """RecepcaoEvento at the AN, signing with the certificate."""
        ...


class AgentPresence(Protocol):
    """Where a company's A3 agent stands, in words (fiscal_core.bridge.status in production)."""

    def describe(self, account_id: str, company_id: str) -> str:
        """E.g. "agent offline since 2026-11-29T10:00:00+00:00"."""
        ...


@dataclass(frozen=True)
class SyncDeps:
    """The worker's collaborators."""

    clock: Callable[[], datetime]
    policy: SyncPolicy
    crash: CrashPoints
    companies: CompanyRepository
    cursors: SyncCursorRepository
    runs: RunBook
    journal: PageJournal
    notes: NotesStore
    store: PageStore
    ciencia: AutoCiencia
    queued: QueuedManifestacoes  # the manifestações users asked for on an A3 company
    single: SingleQueryWork
    credentials: CredentialSource
    services: Services
    # Starts the next execution when a run hands over (None: whoever drives the tasks does it).
    continuation: Continuation | None = None
    # Where A3 steps keep their agent calls and answers (None: A3 certificates cannot be used).
    agent_objects: ObjectStore | None = None
    agents: AgentPresence | None = None
    # Records each new agent call for the bridge's dispatch task (its request item).
    agent_requests: Callable[[AgentCall], None] = lambda call: None
