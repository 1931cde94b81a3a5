"""The export worker's entry point: a batch of the export queue (batch size 1 in CDK).

Everything happens in :mod:`fiscal_core.exports.runtime`; the response lists the records SQS
must deliver again (``ReportBatchItemFailures``).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.exports.runtime import get_runtime
from fiscal_core.observability import logger, metrics, tracer


# clear_state: the export's ids, appended per record, must not leak into the next invocation.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> PartialItemFailureResponse:
    """Process one batch of export tasks."""
    return get_runtime().handle(event, context)
