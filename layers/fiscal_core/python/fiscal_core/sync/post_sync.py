"""The NF-e run's last step, once distNSU is caught up: what the NSU stream alone does not do.

1. send the manifestações users queued for an A3 company, 2. fill gaps of the stream (consNSU),
3. send Ciência da Operação for new summaries when the company opted in, 4. fetch by access key
the full XML that is overdue (consChNFe). distNSU itself is not called: the cursor's next call
is an hour away. The run then ends; its counters include what these calls stored, each answer
counted as soon as it is stored. A run started only for the queue (``Scope.QUEUED``, while the
cursor waits, perhaps for a 656 block) does step 1 alone: it asks nothing of the distribution.
"""

from __future__ import annotations

from fiscal_core.sefaz.errors import SefazError
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.context import StepContext
from fiscal_core.sync.contract import SyncState
from fiscal_core.sync.credentials import Credentials
from fiscal_core.sync.decisions import decide
from fiscal_core.sync.errors import CredentialProblem, RetryableSyncError
from fiscal_core.sync.page_store import PageCounts
from fiscal_core.sync.single_queries import SingleQueryReport, StepBudget


def send_queued(ctx: StepContext) -> SyncState:
    """Send the manifestações queued for the company, and end the run."""
    problems: list[str] = []
    recorded = 0
    try:
        credentials = ctx.deps.credentials.for_company(ctx.company, ctx.agent_book)
        recorded, refused = _send_queue(ctx, credentials)
        problems += refused
    except CredentialProblem as exc:
        problems.append(str(exc))
    except SefazError as exc:
        _sefaz_failed(ctx, exc, problems)
    summary = f"Manifestações queued for the agent: {recorded} recorded by SEFAZ, {len(problems)} not."
    return ctx.end(RunStatus.SUCCEEDED, summary, problems=" ".join(problems) or None)


def after_caught_up(ctx: StepContext) -> SyncState:
    """Do the post-sync work of an NF-e cursor and end the run."""
    deps, state = ctx.deps, ctx.state
    summary = ctx.cursor.block_detail  # why the cursor waits now: "no new documents until ..."
    if state.family is not Family.NFE:
        return ctx.end(RunStatus.SUCCEEDED, summary)
    try:
        credentials = deps.credentials.for_company(ctx.company, ctx.agent_book)
    except CredentialProblem as exc:
        return ctx.end(RunStatus.SUCCEEDED, summary, problems=str(exc))
    queries = deps.services.single_queries(ctx.company, credentials)
    # Counted answer by answer: an A3 step that stops for its agent keeps what it already stored.
    budget = StepBudget(ctx.queries, ctx.keep_lease, tally=lambda stored: _count(ctx, stored))
    problems: list[str] = []
    try:
        problems += _send_queue(ctx, credentials)[1]
        if ctx.notes.gaps:
            gaps = deps.single.fill_gaps(ctx.ref, state.family, queries, ctx.notes, budget)
            ctx.save_notes()
            if gaps.blocked is not None:
                return _blocked(ctx, gaps)
        if ctx.company.auto_ciencia:
            manifestor = deps.services.manifestor(ctx.company, credentials)
            # Counted lot by lot: an A3 step that stops for its agent keeps the lots already done.
            _, refused = deps.ciencia.run(
                ctx.company, manifestor, ctx.notes, max_lots=deps.policy.ciencia_lots_per_step,
                keep_lease=ctx.keep_lease, tally=lambda saved: _count(ctx, PageCounts(events_saved=saved)),
            )  # fmt: skip
            problems += refused
        overdue = deps.single.fetch_full_xml(ctx.ref, state.family, queries, ctx.notes, budget)
        if overdue.blocked is not None:
            return _blocked(ctx, overdue)
    except CredentialProblem as exc:  # an A3 agent that cannot use its token
        problems.append(str(exc))
    except SefazError as exc:
        _sefaz_failed(ctx, exc, problems)
    return ctx.end(RunStatus.SUCCEEDED, summary, problems=" ".join(problems) or None)


def _send_queue(ctx: StepContext, credentials: Credentials) -> tuple[int, list[str]]:
    """The manifestações users queued, first: a person is waiting for them."""
    return ctx.deps.queued.send(
        ctx.company, ctx.deps.services.manifestor(ctx.company, credentials), ctx.notes,
        max_lots=ctx.deps.policy.ciencia_lots_per_step, keep_lease=ctx.keep_lease,
        tally=lambda saved: _count(ctx, PageCounts(events_saved=saved)),
    )  # fmt: skip


def _sefaz_failed(ctx: StepContext, exc: SefazError, problems: list[str]) -> None:
    """A retryable failure retries the step; any other is the run's problem, in words."""
    if exc.retryable:
        raise RetryableSyncError(f"{ctx.source} could not be reached for {ctx.who}: {exc}") from exc
    problems.append(f"{ctx.source} answered in a way FiscalMix cannot use: {exc}.")


def _count(ctx: StepContext, counts: PageCounts) -> None:
    if counts != PageCounts():
        nsu = ctx.cursor.last_nsu
        ctx.state = ctx.deps.runs.count(ctx.state, counts, first_nsu=nsu, last_nsu=nsu)


def _blocked(ctx: StepContext, report: SingleQueryReport) -> SyncState:
    """A single query earned a 656: the CNPJ is blocked, so the cursor waits for the block too."""
    assert report.blocked is not None
    decision = decide(report.blocked, ctx.deps.policy, ctx.deps.clock(), source=ctx.source, company=ctx.who)
    waits = [t for t in (decision.next_allowed_at, ctx.cursor.next_allowed_at) if t is not None]
    return ctx.end(RunStatus.WAITING, decision.message, next_allowed_at=max(waits), reason=decision.reason)
