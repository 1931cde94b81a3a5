"""The sync workflow's ``.waitForTaskToken`` task: send one agent request, or keep it waiting.

The input is ``{"account_id", "company_id", "request_id", "task_token"}``; the task completes
later, when the agent's answer arrives (``SendTaskSuccess`` from the response route), or fails
at the state's TimeoutSeconds. A request that cannot be dispatched (no such request, a broken
call) raises, which fails the task at once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field

from fiscal_core.bridge.runtime import get_bridge
from fiscal_core.bridge.sender import DispatchTask
from fiscal_core.model import Model
from fiscal_core.observability import logger, metrics, tracer


class DispatchInput(Model):
    """What the workflow passes (the token comes from ``$$.Task.Token``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    account_id: str = Field(min_length=1)
    company_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    task_token: str = Field(min_length=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Dispatch one request; the answer is what happened to it (sent, waiting, answered)."""
    given = DispatchInput.model_validate(event)
    logger.append_keys(account_id=given.account_id, company_id=given.company_id, request_id=given.request_id)
    task = DispatchTask(given.account_id, given.company_id, given.request_id, given.task_token)
    outcome = get_bridge().dispatcher.dispatch(task)
    metrics.add_metric(name=f"AgentRequests{outcome.value.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("agent request dispatched", extra={"outcome": outcome.value})
    return {"request_id": given.request_id, "outcome": outcome.value}
