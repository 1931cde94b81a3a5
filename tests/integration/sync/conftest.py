"""The sync against the real SEFAZ simulator (mutual TLS on 127.0.0.1) and moto's server.

Each test gets its own simulator and its own tenant (unique account, company and CNPJ, so tests
never share moto records); the worker runs on the simulator's clock, so an hour passes when the
test says so, and the handler is driven task by task as the workflow would. The tenant's ids come
from the test's id: the CNPJ seeds the simulator's stories, so a test sees the same documents
every run and a failure reproduces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.settings import (
    ENV_SEFAZ_BASE_URL,
    ENV_SEFAZ_CA_PEM,
    ENV_SEFAZ_ENVIRONMENT,
    ENV_SYNC_PAGE_PAUSE_SECONDS,
    get_settings,
)
from fiscal_core.storage.records import Family
from fiscal_core.storage.tables import bind_tables
from fiscal_core.sync.contract import Next, Scope, SyncState, Task, Trigger
from fiscal_core.sync.crash import NO_CRASHES, CrashPoints, SimulatedCrash
from fiscal_core.sync.runtime import build_worker
from functions.sync_worker import handler
from local.aws import LocalAws
from local.demo import DemoTenant, seed_demo_tenant
from local.fixtures.identities import cnpj_for
from local.lambda_runtime import LocalLambdaContext
from local.sefaz import Policy, SefazSimulator

RELEASE_DELAY = timedelta(minutes=10)


@pytest.fixture
def sefaz() -> Iterator[SefazSimulator]:
    """A simulator of its own, releasing the procNFe 10 minutes after a Ciência."""
    with SefazSimulator(policy=Policy(release_delay=RELEASE_DELAY)) as simulator:
        yield simulator
        assert simulator.errors == ()


@dataclass
class SyncPlane:
    """The tenant, the simulator and a way to run the handler's tasks like the workflow."""

    aws: LocalAws
    sefaz: SefazSimulator
    tenant: DemoTenant
    crash: CrashPoints = NO_CRASHES
    waits: list[int] = field(default_factory=list)
    executions: int = 0

    def use_crash(self, crash: CrashPoints) -> None:
        self.crash = crash
        handler.use_worker(build_worker(get_settings(), clock=self.sefaz.clock.now, crash=crash))

    def task(self, state: SyncState) -> SyncState:
        """One invocation of the Lambda handler."""
        answer = handler.lambda_handler(state.model_dump(mode="json"), LocalLambdaContext("sync-worker"))
        return SyncState.model_validate(answer)

    def start(
        self, family: Family = Family.NFE, trigger: Trigger = Trigger.SCHEDULE, scope: Scope = Scope.FULL
    ) -> SyncState:
        self.executions += 1
        state = SyncState(
            account_id=self.tenant.account_id, company_id=self.tenant.company_id, family=family,
            trigger=trigger, user_id=self.tenant.user_id if trigger is Trigger.USER else None,
            lease_owner=f"execution-{self.executions}", scope=scope,
        )  # fmt: skip
        return self.task(state)

    def drive(self, state: SyncState, *, retries: int = 3) -> SyncState:
        """STEP until the run ends, waiting on the simulator's clock, retrying crashed tasks."""
        for _ in range(1000):
            if state.next in {Next.FINISH, Next.SKIP}:
                return self.task(state) if state.task is Task.FINISH else state
            if state.next is Next.WAIT:
                self.waits.append(state.wait_seconds)
                self.sefaz.clock.advance(timedelta(seconds=state.wait_seconds))
            try:
                state = self.task(state)
            except SimulatedCrash:
                retries -= 1
                assert retries >= 0, "crashed too often"
        raise AssertionError("the run did not end")

    def sync(self, family: Family = Family.NFE, trigger: Trigger = Trigger.SCHEDULE) -> SyncState:
        return self.drive(self.start(family, trigger))


@pytest.fixture
def plane(
    local_aws_env: LocalAws,
    sefaz: SefazSimulator,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[SyncPlane]:
    """A tenant seeded as the demo is, and the handler's worker pointed at the simulator."""
    monkeypatch.setenv(ENV_SEFAZ_ENVIRONMENT, "local")
    monkeypatch.setenv(ENV_SEFAZ_BASE_URL, sefaz.url)
    monkeypatch.setenv(ENV_SEFAZ_CA_PEM, sefaz.ca_pem.decode())
    monkeypatch.setenv(ENV_SYNC_PAGE_PAUSE_SECONDS, "2")
    get_settings.cache_clear()
    settings = get_settings()
    bind_tables(settings.table_prefix)
    cipher = EnvelopeCipher(local_aws_env.client("kms"), settings.kms_key_id)
    suffix = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    tenant = seed_demo_tenant(
        cipher, clock=sefaz.clock.now, account_id=f"acc-{suffix}", company_id=f"co-{suffix}",
        cnpj=cnpj_for(f"sync integration {suffix}"), legal_name="EMPRESA INTEGRACAO LTDA",
    )  # fmt: skip
    handler.use_worker(build_worker(settings, clock=sefaz.clock.now))
    try:
        yield SyncPlane(local_aws_env, sefaz, tenant)
    finally:
        handler.use_worker(None)


def objects(aws: LocalAws, prefix: str) -> dict[str, Any]:
    """Every object under ``prefix``: key -> body."""
    s3, bucket = aws.client("s3"), aws.names.documents_bucket
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found
