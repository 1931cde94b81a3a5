"""The hourly fan-out (one execution per company, family and hour) and the Lambda handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fiscal_core.storage.records import Family
from fiscal_core.sync.continuation import StepFunctionsContinuation
from fiscal_core.sync.contract import Next, SyncCounters, SyncState, Task
from fiscal_core.sync.fan_out import FanOut, execution_name
from functions.sync_worker import fanout, handler
from local.lambda_runtime import LocalLambdaContext
from tests.unit.sync.harness import ACCOUNT, COMPANY_ID, Harness


@dataclass
class FakeStepFunctions:
    """StartExecution that refuses a name twice, as Step Functions does."""

    started: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        if name in self.started:
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists"}}, "StartExecution")
        self.started[name] = json.loads(input)
        return {"executionArn": f"{stateMachineArn}:{name}"}


def test_each_due_cursor_gets_one_execution_per_hour(harness: Harness) -> None:
    harness.company()
    sfn = FakeStepFunctions()
    fan_out = FanOut(harness.cursors, sfn, "arn:aws:states:sa-east-1:1:stateMachine:sync", harness.clock)  # type: ignore[arg-type]

    first = fan_out.run()
    again = fan_out.run()  # the schedule delivered twice

    assert (first.due, first.started) == (3, 3)
    assert (again.started, again.already_started) == (0, 3)
    [nfe] = [state for name, state in sfn.started.items() if "-nfe-" in name]
    state = SyncState.model_validate(nfe)
    assert (state.task, state.trigger.value, state.family) == (Task.START, "schedule", Family.NFE)
    assert state.lease_owner == execution_name(ACCOUNT, COMPANY_ID, Family.NFE, harness.clock.now)
    assert len(execution_name("a" * 60, "c" * 60, Family.NFSE, harness.clock.now)) <= 80


def test_cursors_waiting_or_running_are_not_started(harness: Harness) -> None:
    harness.company()
    harness.publish_summary(harness.note())
    harness.run()  # NF-e caught up: next call in an hour
    harness.cursors.acquire(ACCOUNT, COMPANY_ID, Family.CTE, "someone", timedelta(minutes=10))
    sfn = FakeStepFunctions()

    report = FanOut(harness.cursors, sfn, "arn", harness.clock).run()  # type: ignore[arg-type]

    assert (report.due, report.running, report.started) == (2, 1, 1)
    assert [name for name in sfn.started if "-nfse-" in name]


def test_the_handler_runs_a_task_and_answers_the_next_state_as_json(harness: Harness) -> None:
    harness.company()
    harness.publish_summary(harness.note())
    handler.use_worker(harness.worker())
    try:
        event = SyncState(account_id=ACCOUNT, company_id=COMPANY_ID, family=Family.NFE).model_dump(
            mode="json"
        )
        started = handler.lambda_handler(event, LocalLambdaContext("sync-worker"))
        stepped = handler.lambda_handler(started, LocalLambdaContext("sync-worker"))
    finally:
        handler.use_worker(None)
    assert started["task"] == "step"
    assert started["next"] == "fetch"
    assert stepped["counters"]["docs_saved"] == 1
    assert SyncState.model_validate(stepped).next in {Next.FETCH, Next.FINISH}


def test_the_handler_refuses_a_state_that_is_not_the_contract() -> None:
    with pytest.raises(ValueError, match="company_id"):
        handler.lambda_handler({"account_id": "a", "family": "NFE"}, LocalLambdaContext("sync-worker"))


def test_the_fan_out_handler_answers_its_counts(harness: Harness) -> None:
    harness.company()
    sfn = FakeStepFunctions()
    fanout.use_fan_out(FanOut(harness.cursors, sfn, "arn", harness.clock))  # type: ignore[arg-type]
    try:
        answer = fanout.lambda_handler({}, LocalLambdaContext("sync-fanout"))
    finally:
        fanout.use_fan_out(None)
    assert answer["started"] == 3


def test_the_continuation_is_started_once_even_when_the_step_is_retried() -> None:
    sfn = FakeStepFunctions()
    continuation = StepFunctionsContinuation(sfn, "arn:aws:states:sa-east-1:1:stateMachine:sync")  # type: ignore[arg-type]
    state = SyncState(
        account_id=ACCOUNT, company_id=COMPANY_ID, family=Family.CTE, task=Task.STEP, run_id="01RUN",
        lease_owner="owner-1", next=Next.CONTINUE, counters=SyncCounters(pages=1000),
    )  # fmt: skip

    continuation.start(state)
    continuation.start(state)  # the STEP retried after starting it

    assert list(sfn.started) == ["sync-cte-01RUN-001000"]
    assert SyncState.model_validate(sfn.started["sync-cte-01RUN-001000"]) == state
