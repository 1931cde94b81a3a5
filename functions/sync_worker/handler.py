"""The sync workflow's Lambda: one task (START, STEP, FINISH, FAIL) per invocation.

The event is a :class:`~fiscal_core.sync.contract.SyncState`; the answer is the next one, as
JSON. All logic lives in ``fiscal_core.sync``; the worker is built on the first invocation (not
at import) and kept for the container's life. Retryable failures raise ``RetryableSyncError``,
which the workflow's Retry matches; anything else reaches its Catch, which invokes FAIL.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.observability import logger, metrics, tracer
from fiscal_core.settings import get_settings
from fiscal_core.sync.contract import Next, SyncState
from fiscal_core.sync.runtime import build_worker
from fiscal_core.sync.worker import SyncWorker

_worker: SyncWorker | None = None


def worker() -> SyncWorker:
    """The container's worker, built from the settings on first use."""
    global _worker  # noqa: PLW0603 - one worker per warm container, built lazily
    if _worker is None:
        _worker = build_worker(get_settings())
    return _worker


def use_worker(replacement: SyncWorker | None) -> None:
    """Make the handler use ``replacement`` (a test's or the local system's worker; None resets)."""
    global _worker  # noqa: PLW0603
    _worker = replacement


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run the task the state names and return the next state."""
    metrics.add_metric(name="SyncTasks", unit=MetricUnit.Count, value=1)
    state = SyncState.model_validate(event)
    logger.append_keys(
        account_id=state.account_id, company_id=state.company_id, family=state.family.value,
        task=state.task.value, run_id=state.run_id,
    )  # fmt: skip
    result = worker().handle(state)
    pages = result.counters.pages - state.counters.pages
    if pages > 0:
        metrics.add_metric(name="SyncPages", unit=MetricUnit.Count, value=pages)
        metrics.add_metric(
            name="SyncDocumentsSaved", unit=MetricUnit.Count,
            value=result.counters.docs_saved - state.counters.docs_saved,
        )  # fmt: skip
    logger.info("sync task done", extra={"next": result.next.value, "outcome": result.message})
    if result.next is Next.FINISH:
        metrics.add_metric(name="SyncRunsFinished", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
