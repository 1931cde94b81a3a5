"""Continue-as-new: a long run goes on in a fresh execution before the 25,000-event history limit.

The worker starts the next execution itself, with the state it is about to return (the run, the
lease owner and the counters travel in it), and answers CONTINUE so the current execution ends.
The workflow routes an input that carries a run id straight to STEP. The execution's name is
derived from the run and the pages done, so a STEP retried after starting it does not start a
second one: Step Functions refuses the same name.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fiscal_core.storage.errors import StorageUnavailable
from fiscal_core.sync.contract import SyncState

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = logging.getLogger(__name__)


class Continuation(Protocol):
    """Starts the execution that carries a run on."""

    def start(self, state: SyncState) -> None:
        """Start it with ``state`` as its input (idempotent for the same state)."""
        ...


def continuation_name(state: SyncState) -> str:
    """``sync-<family>-<run id>-<pages>``: unique per hand-over, the same when retried."""
    return f"sync-{state.family.value.lower()}-{state.run_id}-{state.counters.pages:06d}"


class StepFunctionsContinuation:
    """Starts executions of the sync state machine."""

    def __init__(self, sfn: SFNClient, state_machine_arn: str) -> None:
        self._sfn = sfn
        self._arn = state_machine_arn

    def start(self, state: SyncState) -> None:
        """StartExecution; an execution of the same name already started counts as done."""
        name = continuation_name(state)
        try:
            self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(state.model_dump(mode="json"))
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return
            raise StorageUnavailable(f"could not start the continuation {name}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"could not start the continuation {name}: {exc}") from exc
        logger.info("run %s continues in execution %s", state.run_id, name)
