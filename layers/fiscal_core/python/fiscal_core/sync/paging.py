"""A STEP that reads the distribution: one answer, stored, recorded on the cursor, then decided.

The answer comes from the page journal when an earlier attempt already received it (SEFAZ must
never be asked twice for the same ultNSU), else from SEFAZ/ADN, and is journaled before anything
else happens. Documents are stored before the cursor moves; the cursor always takes the ultNSU
SEFAZ returned.
"""

from __future__ import annotations

from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.distdfe import NSU_DIGITS
from fiscal_core.sefaz.errors import SefazError, TlsFailure
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.answer import Answer
from fiscal_core.sync.context import StepContext
from fiscal_core.sync.contract import Next, SyncState, Task
from fiscal_core.sync.crash import CrashPoint
from fiscal_core.sync.credentials import Credentials
from fiscal_core.sync.decisions import Action, Decision, decide
from fiscal_core.sync.errors import CredentialProblem, RetryableSyncError

_JOURNALED = frozenset({Category.SUCCESS, Category.EMPTY})  # answers that move SEFAZ's memory


def read_page(ctx: StepContext) -> SyncState:
    """Fetch (or replay), store and record one answer; the state that says what comes next."""
    deps, state = ctx.deps, ctx.state
    try:
        credentials = deps.credentials.for_company(ctx.company, ctx.agent_book)
    except CredentialProblem as exc:
        return ctx.end(RunStatus.FAILED, str(exc), error_code="CERTIFICATE")
    answer = deps.journal.pending(state.account_id, state.company_id, state.family, ctx.cursor.last_nsu)
    if answer is None:
        received = _ask(ctx, credentials)
        if isinstance(received, SyncState):
            return received
        answer = received
    now = deps.clock()
    decision = decide(answer, deps.policy, now, source=ctx.source, company=ctx.who)
    if decision.action is Action.RETRY:
        raise RetryableSyncError(
            f"{ctx.source} answered {answer.outcome.cstat} {answer.outcome.xmotivo} for {ctx.who}; retrying"
        )
    if decision.action is Action.WAIT_IN_RUN:
        assert decision.next_allowed_at is not None
        seconds = max(1, round((decision.next_allowed_at - now).total_seconds()))
        return state.model_copy(update={"task": Task.STEP, "next": Next.WAIT, "wait_seconds": seconds})
    if decision.action is Action.STOP:
        return _stop(ctx, answer, decision)
    return _record(ctx, answer, decision)


def _ask(ctx: StepContext, credentials: Credentials) -> Answer | SyncState:
    """Ask the service for the page after the cursor and journal the answer."""
    deps, state = ctx.deps, ctx.state
    source = deps.services.pages(state.family, ctx.company, credentials)
    try:
        answer = source.after(ctx.cursor.cnpj, ctx.cursor.last_nsu)
    except CredentialProblem as exc:  # an A3 agent that cannot use its token
        return ctx.end(RunStatus.FAILED, str(exc), error_code="CERTIFICATE")
    except SefazError as exc:
        if exc.retryable:
            raise RetryableSyncError(f"{ctx.source} could not be reached for {ctx.who}: {exc}") from exc
        if isinstance(exc, TlsFailure):
            return ctx.end(
                RunStatus.FAILED,
                f"The secure connection to {ctx.source} failed for {ctx.who}: {exc}. If the company's "
                "certificate expired or was revoked, upload a new one; otherwise contact support.",
                error_code="TLS",
            )
        return ctx.end(
            RunStatus.FAILED,
            f"{ctx.source} gave an answer FiscalMix cannot use for {ctx.who}: {exc}. "
            "Contact support with this message.",
            error_code=type(exc).__name__,
        )
    if answer.outcome.category in _JOURNALED:
        deps.journal.save(state.account_id, state.company_id, state.family, answer)
    return answer


def _record(ctx: StepContext, answer: Answer, decision: Decision) -> SyncState:
    """Store the page, then move the cursor to the ultNSU returned, then count it."""
    deps, state = ctx.deps, ctx.state
    # The parser requires both of a SUCCESS or EMPTY answer.
    assert answer.ult_nsu is not None
    assert answer.max_nsu is not None
    counts = deps.store.store(ctx.ref, state.family, answer.documents, answer.nsu_range, ctx.notes)
    deps.crash.reached(CrashPoint.BEFORE_CURSOR_WRITE)
    deps.cursors.advance(
        ctx.lease,
        last_nsu=answer.ult_nsu,
        max_nsu=answer.max_nsu,
        next_allowed_at=decision.next_allowed_at,
        block_reason=decision.reason,
        block_detail=decision.message,
    )
    deps.journal.clear(state.account_id, state.company_id, state.family)
    first = next((d.nsu for d in answer.documents if d.nsu), answer.ult_nsu)
    state = deps.runs.count(state, counts, first_nsu=first, last_nsu=answer.ult_nsu)
    state = state.model_copy(
        update={"execution_pages": state.execution_pages + 1, "message": decision.message}
    )
    ctx.state = state
    if decision.ends_run:
        if state.family is Family.NFE:
            # Caught up: the next step sends Ciência and fetches overdue XML, without distNSU.
            return state.model_copy(update={"task": Task.STEP, "next": Next.FETCH, "wait_seconds": 0})
        return ctx.end(RunStatus.SUCCEEDED, decision.message)
    return _continue(ctx, state)


def _continue(ctx: StepContext, state: SyncState) -> SyncState:
    """More pages to read: now, after the courtesy pause, or in a fresh execution."""
    policy = ctx.deps.policy
    if state.execution_pages >= policy.execution_page_limit:
        # Step Functions keeps 25,000 events per execution: hand over before the limit.
        handed_over = state.model_copy(
            update={"task": Task.STEP, "next": Next.CONTINUE, "execution_pages": 0}
        )
        if ctx.deps.continuation is not None:
            ctx.deps.continuation.start(handed_over)
        return handed_over
    pause = policy.page_pause_seconds
    return state.model_copy(
        update={"task": Task.STEP, "next": Next.WAIT if pause else Next.FETCH, "wait_seconds": pause}
    )


def _stop(ctx: StepContext, answer: Answer, decision: Decision) -> SyncState:
    """End the run as the decision says; a 656 showing NSUs we never received opens a gap."""
    assert decision.status is not None
    cursor, summary = ctx.cursor, decision.message
    sefaz_last = int(answer.ult_nsu or 0)
    if answer.outcome.category is Category.BLOCKED and sefaz_last > int(cursor.last_nsu):
        # SEFAZ answered an earlier request whose answer never arrived (a lost response): it will
        # only accept its own ultNSU now, so resume there and fetch the skipped NSUs one by one.
        missing = [f"{n:0{NSU_DIGITS}d}" for n in range(int(cursor.last_nsu) + 1, sefaz_last + 1)]
        ctx.notes.gaps = sorted({*ctx.notes.gaps, *missing})
        ctx.save_notes()
        last = f"{sefaz_last:0{NSU_DIGITS}d}"
        ctx.deps.cursors.advance(
            ctx.lease,
            last_nsu=last,
            max_nsu=max(cursor.max_nsu, last),
            next_allowed_at=decision.next_allowed_at,
            block_reason=decision.reason,
            block_detail=summary,
        )
        summary = (
            f"{summary} {len(missing)} document(s) SEFAZ sent earlier never arrived; FiscalMix "
            "will fetch them one by one within SEFAZ's hourly limit."
        )
    return ctx.end(
        decision.status,
        summary,
        next_allowed_at=decision.next_allowed_at,
        reason=decision.reason,
        error_code=answer.outcome.cstat if decision.status is RunStatus.FAILED else None,
    )
