"""The sync worker: the four tasks of the workflow (see :mod:`fiscal_core.sync.contract`).

- START takes the cursor's lease (one run per company and family) and opens a run; a run that
  cannot start (lease held, SEFAZ's wait not over) answers SKIP and does nothing else.
- STEP renews the lease and does the next thing: read one distribution page while the cursor may
  call, else the post-sync work; it ends the run itself when there is nothing more to do.
- FINISH makes sure the lease is back and the run closed (STEP normally did both).
- FAIL is the workflow's Catch: it releases the lease and closes the run as failed, in words.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Final

from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.cursor_records import Lease
from fiscal_core.storage.errors import (
    ConcurrentUpdate,
    LeaseHeld,
    LeaseLost,
    RecordNotFound,
    StorageUnavailable,
    SyncWaiting,
)
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.agent_exchange import AgentAnswerNeeded
from fiscal_core.sync.context import StepContext, finished
from fiscal_core.sync.contract import Next, Scope, SyncCounters, SyncState, Task
from fiscal_core.sync.crash import CrashPoint
from fiscal_core.sync.deps import SyncDeps
from fiscal_core.sync.errors import RetryableSyncError
from fiscal_core.sync.paging import read_page
from fiscal_core.sync.policy import SYNCED_FAMILIES
from fiscal_core.sync.post_sync import after_caught_up, send_queued
from fiscal_core.sync.wording import SOURCES, company_name, when

logger = logging.getLogger(__name__)
# The FAIL task's words for the errors the workflow catches, by Lambda error name.
_FAILURES: Final[Mapping[str, str]] = {
    "RetryableSyncError": "could not finish after several attempts: {detail}",
    "States.Timeout": "took longer than allowed and was stopped",
    "States.TaskFailed": "stopped because a step failed: {detail}",
}


class SyncWorker:
    """Runs one task of the sync workflow on a :class:`SyncState`."""

    def __init__(self, deps: SyncDeps) -> None:
        self._deps = deps
        self._tasks: Mapping[Task, Callable[[SyncState], SyncState]] = {
            Task.START: self.start,
            Task.STEP: self.step,
            Task.FINISH: self.finish,
            Task.FAIL: self.fail,
        }

    def handle(self, state: SyncState) -> SyncState:
        """Run the task ``state.task`` names; storage hiccups become retryable errors."""
        try:
            return self._tasks[state.task](state)
        except (StorageUnavailable, ConcurrentUpdate) as exc:
            raise RetryableSyncError(str(exc)) from exc

    def start(self, state: SyncState) -> SyncState:
        """Take the lease and open a run, or answer SKIP saying why not."""
        deps = self._deps
        unread = _nothing_to_read(state)
        if unread is not None:
            return _skip(state, unread)
        try:
            company = deps.companies.get(state.account_id, state.company_id)
        except RecordNotFound:
            return _skip(state, f"Company {state.company_id} does not exist (any more).")
        who = company_name(company.legal_name, company.cnpj)
        if not company.active:
            return _skip(state, f"{who} is inactive; its documents are not synced.")
        # The starter may name the owner (the fan-out uses the execution's name), so a START retried
        # after dying with the lease held takes its own lease back instead of waiting for expiry.
        owner = state.lease_owner or f"{state.trigger.value}-{uuid.uuid4().hex}"
        try:
            lease = self._acquire(state, company, owner, even_if_waiting=state.scope is Scope.QUEUED)
        except LeaseHeld:
            return _skip(state, f"A sync of {who} with {SOURCES[state.family]} is already running.")
        except SyncWaiting as exc:
            why = exc.detail or exc.reason or "SEFAZ's rules"
            return _skip(
                state, f"{SOURCES[state.family]} may be queried for {who} again at {when(exc.until)}: {why}"
            )
        deps.crash.reached(CrashPoint.HOLDING_LEASE)
        scope = state.scope
        ids = (state.account_id, state.company_id, state.family)
        if scope is Scope.QUEUED and deps.cursors.get(*ids).next_allowed_at <= deps.clock():
            scope = Scope.FULL  # SEFAZ may be asked: a whole run, which sends the queue too
        try:
            run = deps.runs.start(state)
        except BaseException:
            deps.cursors.release(lease)  # no run to account for it: give the cursor back at once
            raise
        return state.model_copy(
            update={
                "task": Task.STEP, "run_id": run.run_id, "lease_owner": owner, "next": Next.FETCH,
                "wait_seconds": 0, "execution_pages": 0, "counters": SyncCounters(), "message": None,
                "scope": scope,
            }
        )  # fmt: skip

    def step(self, state: SyncState) -> SyncState:
        """Renew the lease, then read a page or do the post-sync work."""
        deps = self._deps
        if state.lease_owner is None or state.run_id is None:
            raise ValueError("a STEP needs the lease owner and run id its START returned")
        try:
            lease = deps.cursors.renew(self._lease(state), deps.policy.lease_ttl)
            deps.crash.reached(CrashPoint.HOLDING_LEASE)
            company = deps.companies.get(state.account_id, state.company_id)
            cursor = deps.cursors.get(state.account_id, state.company_id, state.family)
            notes = deps.notes.load(state.account_id, state.company_id, state.family)
            context = StepContext(deps, state, lease, company, cursor, notes)
            try:
                if state.scope is Scope.QUEUED:
                    done = send_queued(context)
                elif cursor.next_allowed_at <= deps.clock():
                    done = read_page(context)
                else:
                    done = after_caught_up(context)
            except AgentAnswerNeeded:
                # An A3 step stopped at a call its agent must make: the workflow sends it and waits.
                # The state keeps what the step counted of work it will not redo (Ciência lots).
                assert context.book is not None
                return context.book.wait_state(context.state, queries=context.queries.made)
            if context.book is not None:
                context.book.discard()
            return done.model_copy(update={"agent": None})
        except LeaseLost:
            summary = (
                "This run stopped: it lost its hold on the sync (it stalled longer than "
                f"{deps.policy.lease_ttl} and another run may have taken over). Nothing was lost; "
                "the next run continues where the sync stands."
            )
            deps.runs.end(state, RunStatus.FAILED, summary, error_code="LEASE_LOST")
            return finished(state, summary)

    def finish(self, state: SyncState) -> SyncState:
        """Give the lease back and close the run if STEP has not already."""
        if state.lease_owner is not None:
            with suppress(LeaseLost):  # already released by the step, or expired
                self._deps.cursors.release(self._lease(state))
        self._deps.runs.end(state, RunStatus.SUCCEEDED, None)
        return finished(state, state.message)

    def fail(self, state: SyncState) -> SyncState:
        """The Catch: release the lease with the reason, and close the run as failed."""
        name, detail = _error(state.error)
        try:
            company = self._deps.companies.get(state.account_id, state.company_id)
            who = company_name(company.legal_name, company.cnpj)
        except RecordNotFound:
            who = f"company {state.company_id}"
        what = _FAILURES.get(name, "stopped because of an unexpected error ({name}): {detail}")
        if state.agent is not None and state.agent.pending and _timed_out(name, detail):
            what = self._agent_silent(state, state.agent.timeout_seconds)
        summary = (
            f"The sync of {who} with {SOURCES[state.family]} {what.format(name=name, detail=detail)}. "
            "Nothing stored was lost; the next scheduled run starts where this one stopped."
        )
        logger.error("sync run failed: %s", summary)
        if state.lease_owner is not None:
            with suppress(LeaseLost):  # expired during the retries: the cursor is free already
                self._deps.cursors.release(self._lease(state), error=summary)
        self._deps.runs.end(state, RunStatus.FAILED, summary, error_code=name)
        return finished(state, summary)

    def _agent_silent(self, state: SyncState, waited: int) -> str:
        """Why an A3 run's agent did not answer, as the bridge sees it (offline since when)."""
        presence = self._deps.agents
        where = presence.describe(state.account_id, state.company_id) if presence else "no answer came"
        return (
            (
                f"waited {waited} s for the company's FiscalMix agent and stopped: {where}. Start the agent "
                "on the computer where the A3 token is plugged in"
            )
            .replace("{", "{{")
            .replace("}", "}}")
        )

    def _acquire(
        self, state: SyncState, company: CompanyRecord, owner: str, *, even_if_waiting: bool
    ) -> Lease:
        cursors, ttl = self._deps.cursors, self._deps.policy.lease_ttl
        ids = (state.account_id, state.company_id, state.family)
        try:
            return cursors.acquire(*ids, owner, ttl, even_if_waiting=even_if_waiting)
        except RecordNotFound:
            # A company registered before its cursors were: start it from NSU zero.
            cursors.ensure(*ids, company.cnpj)
            return cursors.acquire(*ids, owner, ttl, even_if_waiting=even_if_waiting)

    def _lease(self, state: SyncState) -> Lease:
        assert state.lease_owner is not None
        # The expiry is the store's business; a Lease only names who may write.
        return Lease(state.account_id, state.company_id, state.family, state.lease_owner, self._deps.clock())


# How Step Functions says a task token was not completed in time.
_AGENT_TIMEOUTS: Final = frozenset({"States.Timeout", "States.HeartbeatTimeout"})


def _timed_out(name: str, detail: str) -> bool:
    """Whether the wait for the agent's answer ran out.

    moto 5.2.5's Map cannot re-raise a ``States.*`` error from its item (it fails the Map with
    ``States.Runtime`` naming it); AWS propagates ``States.Timeout`` itself.
    """
    return name in _AGENT_TIMEOUTS or (name == "States.Runtime" and "States.Timeout" in detail)


def _nothing_to_read(state: SyncState) -> str | None:
    """Why a run of ``state``'s family and scope has nothing to do, whatever the cursor says."""
    if state.family not in SYNCED_FAMILIES:
        return f"{SOURCES[state.family]} has no distribution FiscalMix reads."
    if state.scope is Scope.QUEUED and state.family is not Family.NFE:
        return "Only NF-e manifestações are queued for an agent; nothing to send."
    return None


def _skip(state: SyncState, message: str) -> SyncState:
    return state.model_copy(update={"next": Next.SKIP, "wait_seconds": 0, "message": message})


def _error(error: Mapping[str, str] | None) -> tuple[str, str]:
    """(error name, its message) from what Step Functions' Catch put in the state."""
    if not error:
        return "Unknown", "no error details were given"
    name = error.get("Error") or "Unknown"
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return name, cause or name
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    return name, str(message or cause)
