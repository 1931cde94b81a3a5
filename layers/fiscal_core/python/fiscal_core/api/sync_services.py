"""What the sync routes work with: the runs table, the workflow starter, and the 409 of a refusal.

Built once per cold start by :func:`get_sync_services`; the Step Functions client is created on
the first start. Kept apart from :mod:`fiscal_core.api.sync`, which the routes import only when
one of them runs. Tests hand the resolver their own instance through
``app.dependency_overrides[get_sync_services]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from aws_lambda_powertools.event_handler import Response

from fiscal_core.api.problems import PROBLEM_CONTENT_TYPE, Conflict, DependencyUnavailable, problem_for
from fiscal_core.container import once_per_container
from fiscal_core.settings import ENV_SYNC_STATE_MACHINE_ARN, get_settings
from fiscal_core.storage.tables import bind_tables

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from fiscal_core.settings import Settings
    from fiscal_core.storage.sync_runs import SyncRunRepository
    from fiscal_core.sync.contract import SyncState


class SyncStarter(Protocol):
    """Starts one execution of the sync workflow (Step Functions in production)."""

    def start(self, name: str, state: SyncState) -> str:
        """Start an execution named ``name`` with ``state`` as its input; its ARN."""
        ...


class StepFunctionsStarter:
    """``states:StartExecution`` on the sync state machine the settings name."""

    def __init__(self, client: Callable[[], SFNClient], state_machine_arn: str | None) -> None:
        self._client_factory = client
        self._arn = state_machine_arn

    def start(self, name: str, state: SyncState) -> str:
        """Start the execution; DependencyUnavailable (503) when no state machine is configured."""
        if not self._arn:
            raise DependencyUnavailable(f"{ENV_SYNC_STATE_MACHINE_ARN} is not set on the API function")
        answer = self._client.start_execution(
            stateMachineArn=self._arn, name=name, input=json.dumps(state.model_dump(mode="json"))
        )
        return answer["executionArn"]

    @cached_property
    def _client(self) -> SFNClient:
        return self._client_factory()


class SyncServices:
    """The sync resource's adapters: the runs table and the workflow starter."""

    def __init__(self, *, starter: SyncStarter, runs: SyncRunRepository | None = None) -> None:
        from fiscal_core.storage.sync_runs import SyncRunRepository

        self.starter = starter
        self.runs = runs or SyncRunRepository()


@once_per_container
def get_sync_services() -> SyncServices:
    """The process's sync services: settings read and tables bound once per cold start."""
    settings = get_settings()
    bind_tables(settings.table_prefix)  # idempotent: the API's other services bind the same
    return SyncServices(
        starter=StepFunctionsStarter(lambda: sfn_client(settings), settings.sync_state_machine_arn)
    )


def sfn_client(settings: Settings) -> SFNClient:
    """A Step Functions client for the deployment ``settings`` describe."""
    return boto3.client("stepfunctions", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)


class SyncRefused(Conflict):
    """No requested family may be synced now; ``retry_at`` says when one may (None: when a run ends)."""

    def __init__(self, detail: str, retry_at: datetime | None) -> None:
        super().__init__(detail)
        self.retry_at = retry_at


def refusal_response(exc: SyncRefused, instance: str) -> Response[str]:
    """The 409 problem of a refused sync, with ``retry_at`` (ISO 8601) as an extension member."""
    body: dict[str, Any] = problem_for(exc, instance).model_dump(mode="json", exclude_none=True)
    body["retry_at"] = exc.retry_at.isoformat() if exc.retry_at is not None else None
    return Response(status_code=exc.status, content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body))
