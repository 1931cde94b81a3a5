"""The schedule's Lambda (every 15 minutes): start a sync execution for every company and family
that is due.

EventBridge Scheduler invokes it; the event's content is not used. The answer counts what was
started and what was skipped (already started this hour, already running).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.observability import logger, metrics, tracer
from fiscal_core.settings import get_settings
from fiscal_core.sync.fan_out import FanOut
from fiscal_core.sync.runtime import build_fan_out

_fan_out: FanOut | None = None


def fan_out() -> FanOut:
    """The container's fan-out, built from the settings on first use."""
    global _fan_out  # noqa: PLW0603 - one per warm container, built lazily
    if _fan_out is None:
        _fan_out = build_fan_out(get_settings())
    return _fan_out


def use_fan_out(replacement: FanOut | None) -> None:
    """Make the handler use ``replacement`` (tests, the local system; None resets)."""
    global _fan_out  # noqa: PLW0603
    _fan_out = replacement


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Start the due syncs; the counts of what happened."""
    report = fan_out().run().as_dict()
    metrics.add_metric(name="SyncExecutionsStarted", unit=MetricUnit.Count, value=report["started"])
    return report
