"""The scheduled fan-out: start a sync execution for every cursor whose next call is allowed.

EventBridge Scheduler calls it every 15 minutes (infra/constructs/sync.py says why not hourly).
Each execution is named after the company, the family and the hour, so a company gets at most
one scheduled execution an hour, and a schedule delivered twice (Scheduler is at-least-once) or
retried starts nothing new: Step Functions refuses a second execution of the same name. Cursors
whose lease is held are left to the run holding them; blocked ones are not due (the ``due``
index lists only cursors whose next call is allowed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.records import Family
from fiscal_core.sync.contract import SyncState, Trigger
from fiscal_core.sync.policy import SYNCED_FAMILIES

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = logging.getLogger(__name__)
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class FanOutReport:
    """What one fan-out did."""

    due: int = 0
    started: int = 0
    already_started: int = 0  # an execution of this hour exists: a repeated schedule
    running: int = 0  # the cursor's lease is held by a run in progress
    not_synced: int = 0  # a family without a distribution FiscalMix reads

    def as_dict(self) -> dict[str, int]:
        """The counts, for the handler's answer and the logs."""
        return dict(vars(self))


def execution_name(account_id: str, company_id: str, family: Family, at: datetime) -> str:
    """``sync-nfe-<company>-<hash>-<yyyymmddhh>``: one per company, family and hour (≤ 80 chars)."""
    digest = hashlib.sha256(f"{account_id}#{company_id}".encode()).hexdigest()[:10]
    readable = _UNSAFE.sub("_", company_id)[:40]
    return f"sync-{family.value.lower()}-{readable}-{digest}-{at.astimezone(UTC):%Y%m%d%H}"


class FanOut:
    """Starts the due syncs."""

    def __init__(
        self,
        cursors: SyncCursorRepository,
        sfn: SFNClient,
        state_machine_arn: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._cursors = cursors
        self._sfn = sfn
        self._arn = state_machine_arn
        self._clock = clock

    def run(self) -> FanOutReport:
        """Start an execution for each due cursor not already being worked."""
        now = self._clock()
        report = FanOutReport()
        for account_id, company_id, family in self._cursors.due(now):
            report.due += 1
            if family not in SYNCED_FAMILIES:
                report.not_synced += 1
                continue
            try:
                cursor = self._cursors.get(account_id, company_id, family)
            except RecordNotFound:
                continue  # deleted since the index was read
            if not cursor.lease_expired(now):
                report.running += 1
                continue
            name = execution_name(account_id, company_id, family, now)
            # The name is also the lease owner: a START retried after a crash reclaims its own lease.
            state = SyncState(
                account_id=account_id, company_id=company_id, family=family, trigger=Trigger.SCHEDULE,
                lease_owner=name,
            )  # fmt: skip
            if self._start(name, state.model_dump(mode="json")):
                report.started += 1
            else:
                report.already_started += 1
        logger.info("sync fan-out: %s", report.as_dict())
        return report

    def _start(self, name: str, payload: dict[str, Any]) -> bool:
        try:
            self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True
