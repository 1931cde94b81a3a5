"""The state the sync workflow passes between its Step Functions tasks.

The workflow (infra/constructs/sync.py) and the sync worker's handlers
(functions/sync_worker/) agree on these shapes and nothing else: every task receives a
``SyncState`` as its input (``task`` says which step to run) and returns the next ``SyncState``.
The Choice state reads ``next`` and the Wait state reads ``wait_seconds``, so how long to wait
is data decided by the worker, never a constant in the state machine.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from fiscal_core.model import Model
from fiscal_core.storage.records import Family


class Task(StrEnum):
    """Which step a sync worker invocation runs."""

    START = "start"  # acquire the company's lease and open a sync run
    STEP = "step"  # fetch one page, store it, advance the cursor, decide what comes next
    FINISH = "finish"  # release the lease and close the run with its counters
    FAIL = "fail"  # the Catch: release the lease and mark the run failed, with a readable why


class Next(StrEnum):
    """What the workflow does after a task; the Choice state branches on it."""

    FETCH = "fetch"  # fetch the next page at once
    WAIT = "wait"  # wait ``wait_seconds`` (a short pause inside the run), then fetch
    CONTINUE = "continue"  # start a fresh execution with this state (history-size limit)
    FINISH = "finish"  # nothing more to do now: release the lease and close the run
    SKIP = "skip"  # the run did not start (lease held, blocked, not due): end without work
    AGENT = "agent"  # an A3 step needs its agent: send ``agent.pending``, wait, then step again


class Scope(StrEnum):
    """What a run is for."""

    FULL = "full"  # read the distribution, then the post-sync work
    # Only send the manifestações users queued for an A3 company (fiscal_core.sync.queued_manifestacoes):
    # such a run may start while distNSU must wait, and asks nothing of the distribution.
    QUEUED = "queued"


class Trigger(StrEnum):
    """Who started the run."""

    SCHEDULE = "schedule"
    USER = "user"


class SyncCounters(Model):
    """The exact counters of a run, carried across pages and executions."""

    model_config = ConfigDict(extra="forbid")

    pages: int = 0
    docs_found: int = 0
    docs_saved: int = 0
    events_saved: int = 0


class AgentWait(Model):
    """An A3 step that needs its on-prem agent (the token signs, the agent talks to SEFAZ).

    The step stopped at its first call without an answer; the workflow sends the ``pending``
    calls to the agent and waits on a task token for each, then runs the step again. The step
    replays the calls it had made, in order, with their stored answers, so it reaches the same
    point with the answers in hand (fiscal_core.sync.agent_exchange).
    """

    model_config = ConfigDict(extra="forbid")

    # The step's clock for what it signs: a replay builds the very same events and lot ids.
    started_at: datetime
    calls: list[str] = Field(default=[])  # request ids, in the order the step made them
    pending: list[str] = Field(default=[])  # the ones to send now (a suffix of ``calls``)
    timeout_seconds: int = Field(gt=0)  # how long the workflow waits for each answer
    # Single queries (consNSU, consChNFe) the step already made, each with whether its answer was
    # counted: a replay makes them again from the stored answers, without taking them from SEFAZ's
    # hourly budget or counting them twice (fiscal_core.sync.single_queries.QueryLedger).
    queries: dict[str, bool] = Field(default={})


class SyncState(Model):
    """Input and output of every sync task; small enough for Step Functions' 256 KB payload."""

    model_config = ConfigDict(extra="forbid")

    task: Task = Task.START
    account_id: str
    company_id: str
    family: Family
    trigger: Trigger = Trigger.SCHEDULE
    user_id: str | None = None  # who started a user run, for the audit log
    scope: Scope = Scope.FULL
    run_id: str | None = None
    lease_owner: str | None = None
    next: Next = Next.FETCH
    wait_seconds: int = Field(default=0, ge=0)
    # Pages fetched by this execution; the worker answers CONTINUE before the history limit.
    execution_pages: int = 0
    counters: SyncCounters = Field(default_factory=SyncCounters)
    message: str | None = None  # why the run skipped or stopped, in plain words
    # Set by the Catch: the error name and cause Step Functions put in the state.
    error: dict[str, str] | None = None
    agent: AgentWait | None = None  # set while an A3 step waits for its agent
