"""What one STEP works with: its lease, the company, the cursor, the cursor's notes.

Also the one way a run ends from inside a step (:meth:`StepContext.end`): the cursor records why
and until when, the lease is given back, the run is closed, and the workflow is told FINISH.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.cursor_records import CursorState, Lease
from fiscal_core.storage.errors import LeaseLost
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.agent_exchange import AgentCallBook, AgentTarget
from fiscal_core.sync.contract import Next, SyncState, Task
from fiscal_core.sync.deps import SyncDeps
from fiscal_core.sync.errors import CredentialProblem
from fiscal_core.sync.items import Company
from fiscal_core.sync.notes import CursorNotes
from fiscal_core.sync.single_queries import QueryLedger
from fiscal_core.sync.wording import SOURCES, company_name


@dataclass
class StepContext:
    """One step's view of its run; ``lease`` is renewed as the step goes."""

    deps: SyncDeps
    state: SyncState
    lease: Lease
    company: CompanyRecord
    cursor: CursorState
    notes: CursorNotes
    book: AgentCallBook | None = None  # an A3 step's calls to its agent, once it made one
    # The step's single queries, those its earlier runs made included (an A3 step's replays).
    queries: QueryLedger = field(init=False)

    def __post_init__(self) -> None:
        earlier = self.state.agent.queries if self.state.agent is not None else {}
        self.queries = QueryLedger(earlier=dict(earlier))

    def agent_book(self, target: AgentTarget) -> AgentCallBook:
        """The step's book of agent calls (replaying what ``state.agent`` recorded)."""
        if self.book is None:
            objects = self.deps.agent_objects
            if objects is None:
                raise CredentialProblem(
                    f"{self.who} uses an A3 certificate, which this deployment cannot reach."
                )
            timeout = self.deps.policy.agent_timeout_seconds
            self.book = AgentCallBook.for_step(
                objects,
                target,
                self.state.agent,
                self.deps.clock(),
                timeout,
                register=self.deps.agent_requests,
            )
        return self.book

    @property
    def who(self) -> str:
        """The company in words."""
        return company_name(self.company.legal_name, self.company.cnpj)

    @property
    def source(self) -> str:
        """The service this cursor reads, in words."""
        return SOURCES[self.state.family]

    @property
    def ref(self) -> Company:
        """The company as the page store needs it: tenant keys and the CNPJ queried."""
        return Company(self.company.account_id, self.company.company_id, self.cursor.cnpj)

    def keep_lease(self) -> None:
        """Renew the lease before a call that may take a while (LeaseLost if it was lost)."""
        self.lease = self.deps.cursors.renew(self.lease, self.deps.policy.lease_ttl)

    def save_notes(self) -> None:
        """Write the cursor's notes (after changing its gaps)."""
        self.deps.notes.save(self.company.account_id, self.company.company_id, self.state.family, self.notes)

    def end(
        self,
        status: RunStatus,
        summary: str | None,
        *,
        next_allowed_at: datetime | None = None,
        reason: str | None = None,
        error_code: str | None = None,
        problems: str | None = None,
    ) -> SyncState:
        """End the run: record why on the cursor, give the lease back, close the run.

        ``summary`` is what the workflow's output and a stopped run's record say; a successful
        run's record keeps only ``problems`` (what went wrong on the side, like a refused Ciência).
        """
        failed = status is RunStatus.FAILED
        # A lease that expired meanwhile is nobody's to release: the cursor is free already.
        with suppress(LeaseLost):
            self.deps.cursors.release(
                self.lease,
                error=summary if failed else None,
                next_allowed_at=next_allowed_at,
                block_reason=reason,
                block_detail=summary if reason else None,
            )
        recorded = problems if status is RunStatus.SUCCEEDED else summary
        self.deps.runs.end(self.state, status, recorded, error_code=error_code)
        return finished(self.state, summary)


def finished(state: SyncState, message: str | None) -> SyncState:
    """The state that tells the workflow the run is over."""
    return state.model_copy(
        update={"task": Task.FINISH, "next": Next.FINISH, "wait_seconds": 0, "message": message}
    )
