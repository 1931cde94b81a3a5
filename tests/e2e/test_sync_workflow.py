"""The DF-e sync end to end: the synthesized state machine executed by moto, its tasks in the real
worker, against the SEFAZ simulator, on the simulator's clock (frozen; the tests move it).

One LocalSystem serves the module; each test works for a tenant of its own (its own account,
company and CNPJ), so what one test stores never counts in another's. The truth every test checks
against is what the simulator distributed: each document and event it handed out must be stored
exactly once (record and S3 object), and ``sefaz.ledger`` must stay empty (no rule broken, no 656).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from lxml import etree

from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.settings import ENV_SYNC_EXECUTION_PAGE_LIMIT, ENV_SYNC_PAGE_PAUSE_SECONDS, get_settings
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.models import Document, DocumentEvent
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunRecord, SyncRunRepository
from fiscal_core.sync.contract import Next, SyncState, Trigger
from fiscal_core.sync.crash import CrashAt, CrashPoint
from infra.constructs.sync import FANOUT_INPUT
from local.aws import LOCAL_ACCOUNT
from local.cfn.intrinsics import resolve
from local.demo import DemoTenant, seed_demo_tenant
from local.fixtures.identities import cnpj_for
from local.lambda_dispatch import LocalFunction
from local.lambda_runtime import invoke
from local.sefaz import SimClock
from local.sefaz.service import Service
from local.system import LocalOptions, LocalSystem

pytestmark = [
    pytest.mark.slow,
    # The fan-out's metrics are off locally; Powertools warns when a flush finds none.
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

STAGE = "sync"
WORKER_HANDLER = "functions.sync_worker.handler.lambda_handler"
FANOUT_HANDLER = "functions.sync_worker.fanout.lambda_handler"
FAMILIES = (Family.NFE, Family.CTE)
SERVICES = {Family.NFE: Service.NFE_DIST, Family.CTE: Service.CTE_DIST}
# SEFAZ's hour after a caught-up answer, plus the worker's safety margin (5 min by default).
NEXT_CYCLE = timedelta(hours=1, minutes=10)
# The schedule's period (infra/constructs/sync.py), and its ticks within an hour in minutes.
SCHEDULE_PERIOD = timedelta(minutes=15)
SCHEDULE_TICKS = (15, 30, 45, 60)
LEASE_TTL = timedelta(minutes=10)  # the worker's default lease


# The plane -------------------------------------------------------------------------------------


class AwsCalls:
    """Every AWS call the sync's functions make, with the thread's function and the answer's error.

    moto enforces no IAM, so this is how the e2e run proves the functions' roles are sufficient:
    each call is checked against the synthesized policy (``test_the_roles_allow_every_call_made``).
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any], str | None]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def acting_as(self, role: str, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[..., Any]:
        """``handler``, with its thread's calls attributed to ``role``."""

        def run(event: dict[str, Any], context: Any) -> Any:
            self._local.role = role
            try:
                return handler(event, context)
            finally:
                self._local.role = None

        return run

    def install(self) -> None:
        calls = self

        def recorded(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            role = getattr(calls._local, "role", None)
            if role is None and threading.current_thread().name.startswith("sync-store"):
                role = "worker"  # the worker's pool of S3 and DynamoDB writers
            error = None
            try:
                return calls._original(client, operation, params)
            except ClientError as exc:
                error = str(exc.response.get("Error", {}).get("Code"))
                raise
            finally:
                if role is not None:
                    with calls._lock:
                        calls.calls.append(
                            (role, client.meta.service_model.service_name, operation, params, error)
                        )

        BaseClient._make_api_call = recorded  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        BaseClient._make_api_call = self._original  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def aws_calls() -> Iterator[AwsCalls]:
    calls = AwsCalls()
    calls.install()
    yield calls
    calls.uninstall()


@pytest.fixture(scope="module")
def system(aws_calls: AwsCalls) -> Iterator[LocalSystem]:
    options = LocalOptions(
        stage=STAGE,
        start_schedules=False,  # the tests fire the scheduled fan-out themselves
        environment={ENV_SYNC_PAGE_PAUSE_SECONDS: "0"},
        # Frozen at the start (the test CA's certificates are valid from about now); tests move it.
        sefaz_clock=SimClock(),
    )
    with LocalSystem(options) as system:
        for record in system.stack.functions.values():
            role = {WORKER_HANDLER: "worker", FANOUT_HANDLER: "fanout"}.get(record.handler_path)
            if role is not None:
                function = system.function(record.name)
                system.registry.register(
                    LocalFunction(
                        function.name, aws_calls.acting_as(role, function.handler), function.timeout_seconds
                    )
                )
        yield system


def _clock(system: LocalSystem) -> SimClock:
    assert system.sefaz is not None
    return system.sefaz.clock


@pytest.fixture
def new_tenant(system: LocalSystem) -> Iterator[Callable[[str], DemoTenant]]:
    """Creates tenants (account, company, A1, cursors in the schedule); unschedules them after."""
    made: list[DemoTenant] = []

    def make(name: str) -> DemoTenant:
        settings = get_settings()
        tenant = seed_demo_tenant(
            EnvelopeCipher(system.aws.client("kms"), settings.kms_key_id),
            clock=_clock(system).now,
            account_id=f"acc-{name}",
            company_id=f"co-{name}",
            cnpj=cnpj_for(f"sync e2e {name}"),
            legal_name=f"EMPRESA {name.upper()} LTDA",
            families=FAMILIES,
        )
        made.append(tenant)
        return tenant

    yield make
    # Later tests fire the fan-out: a finished test's tenant must not be synced by them.
    cursors = SyncCursorRepository()
    for tenant in made:
        for family in FAMILIES:
            cursors.set_scheduled(tenant.account_id, tenant.company_id, family, False)


# Driving the workflow --------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """A finished execution: its status and the SyncState it ended with."""

    name: str
    status: str
    output: SyncState | None


def _sfn(system: LocalSystem) -> Any:
    return system.aws.client("stepfunctions")


def _arn(system: LocalSystem) -> str:
    arn: str = system.stack.outputs["SyncStateMachineArn"]
    return arn


def settle(system: LocalSystem, timeout: float = 240.0) -> None:
    """Wait until no execution of the workflow is running (continuations included)."""
    sfn, deadline = _sfn(system), time.monotonic() + timeout
    while time.monotonic() < deadline:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=_arn(system))
        if not any(e["status"] == "RUNNING" for page in pages for e in page["executions"]):
            return
        time.sleep(0.1)
    raise AssertionError("sync executions still running")


_names = Counter[str]()


def start_run(
    system: LocalSystem, tenant: DemoTenant, family: Family, trigger: Trigger = Trigger.USER
) -> str:
    """StartExecution as the API does for a user (or the fan-out for the schedule); the ARN."""
    state = SyncState(
        account_id=tenant.account_id,
        company_id=tenant.company_id,
        family=family,
        trigger=trigger,
        user_id=tenant.user_id if trigger is Trigger.USER else None,
    )
    key = f"{trigger.value}-{family.value.lower()}-{tenant.company_id}"
    _names[key] += 1
    answer = _sfn(system).start_execution(
        stateMachineArn=_arn(system), name=f"{key}-{_names[key]}", input=state.model_dump_json()
    )
    arn: str = answer["executionArn"]
    return arn


def finished(system: LocalSystem, execution_arn: str) -> Execution:
    described = _sfn(system).describe_execution(executionArn=execution_arn)
    output = described.get("output")
    state = SyncState.model_validate_json(output) if output and described["status"] == "SUCCEEDED" else None
    return Execution(described["name"], described["status"], state)


def sync(system: LocalSystem, tenant: DemoTenant, families: tuple[Family, ...] = FAMILIES) -> list[Execution]:
    """A user run of each family at once, waited for."""
    started = [start_run(system, tenant, family) for family in families]
    settle(system)
    return [finished(system, arn) for arn in started]


def fire_schedule(system: LocalSystem) -> dict[str, int]:
    """What EventBridge Scheduler does every 15 minutes: invoke the fan-out (then wait for its runs)."""
    (record,) = (r for r in system.stack.functions.values() if r.handler_path == FANOUT_HANDLER)
    function = system.function(record.name)
    report: dict[str, int] = invoke(function.handler, dict(FANOUT_INPUT), function.name)
    settle(system)
    return report


# The truth: what the simulator distributed ---------------------------------------------------------


def _first(root: etree._Element, name: str) -> str:
    found = root.xpath(f"string(.//*[local-name()='{name}'][1])")
    assert isinstance(found, str) and found, name
    return found


MANIFESTACOES = {"210200", "210210", "210220", "210240"}


@dataclass
class Distributed:
    """What the simulator handed the tenant, read from its logs (not through FiscalMix's code).

    ``items`` counts the docZips of the answers up to each cursor's ultNSU: what the sync has
    fetched. The company's own manifestações are stored when FiscalMix registers them, before
    SEFAZ distributes them back, so they count as stored events wherever they are in the log.
    """

    items: int
    documents: set[str]  # access keys
    summarized: set[str]  # keys that came as a summary (resNFe)
    full: set[str]  # keys whose full XML came (procNFe, procCTe)
    events: set[tuple[str, str]]  # (access key, "<tpEvento>#<seq:03>")
    cancelled: set[str]

    @classmethod
    def of(cls, system: LocalSystem, tenant: DemoTenant) -> Distributed:
        assert system.sefaz is not None
        truth = cls(0, set(), set(), set(), set(), set())
        oldest = datetime.min.replace(tzinfo=UTC)
        for family in FAMILIES:
            fetched = int(SyncCursorRepository().get(tenant.account_id, tenant.company_id, family).last_nsu)
            log = system.sefaz.engine.log(SERVICES[family], tenant.cnpj)
            for item in log.after(0, not_before=oldest, limit=10**6):
                truth._add(etree.fromstring(item.xml), tenant.cnpj, fetched=item.nsu <= fetched)
        return truth

    def _add(self, root: etree._Element, cnpj: str, *, fetched: bool) -> None:
        kind = etree.QName(root).localname
        if kind in {"procEventoNFe", "resEvento"}:
            key, type_code = _first(root, "chNFe"), _first(root, "tpEvento")
            own = type_code in MANIFESTACOES and _first(root, "CNPJ") == cnpj
            if fetched or own:
                self.events.add((key, f"{type_code}#{int(_first(root, 'nSeqEvento')):03d}"))
            if fetched and type_code == "110111":
                self.cancelled.add(key)
        elif fetched:
            key = _first(root, {"resNFe": "chNFe", "nfeProc": "chNFe", "cteProc": "chCTe"}[kind])
            self.documents.add(key)
            (self.summarized if kind == "resNFe" else self.full).add(key)
        self.items += fetched


@dataclass
class Stored:
    """What FiscalMix holds for a tenant: records and the S3 objects under its prefix."""

    documents: dict[str, Document]  # by access key
    events: dict[tuple[str, str], DocumentEvent]
    versions: Counter[str]  # S3 key -> number of versions

    @property
    def upgraded(self) -> set[str]:
        """The objects written twice: summaries replaced by their full XML."""
        return {key for key, n in self.versions.items() if n == 2}

    @classmethod
    def of(cls, system: LocalSystem, tenant: DemoTenant) -> Stored:
        partition = company_key(tenant.account_id, tenant.company_id)
        documents = {d.doc_key.removeprefix("KEY#"): d for d in Document.query(partition)}
        events = {
            (e.doc_key.removeprefix("KEY#"), e.event_key): e
            for e in DocumentEvent.scan(DocumentEvent.account_id == tenant.account_id)
        }
        versions: Counter[str] = Counter()
        s3 = system.aws.client("s3")
        prefix = f"{tenant.account_id}/{tenant.company_id}/"
        for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=get_settings().documents_bucket, Prefix=prefix
        ):
            for version in page.get("Versions", []):
                if "/sync/" not in version["Key"]:  # the sync's own notes and page journal
                    versions[version["Key"]] += 1
        return cls(documents, events, versions)


def runs_of(tenant: DemoTenant) -> list[RunRecord]:
    runs, cursor, repository = [], None, SyncRunRepository()
    while True:
        page = repository.list_runs(tenant.account_id, tenant.company_id, limit=200, cursor=cursor)
        runs += page.items
        if page.cursor is None:
            return runs
        cursor = page.cursor


def assert_stored_exactly_once(system: LocalSystem, tenant: DemoTenant, *, clean: bool = True) -> Stored:
    """Every distributed document and event stored once, in its final form; nothing else stored.

    ``clean`` runs (no crash) also wrote each object once, or twice for a summary later replaced
    by its full XML; a crashed page is written again (identically), so its objects may have more.
    """
    assert system.sefaz is not None
    truth, stored = Distributed.of(system, tenant), Stored.of(system, tenant)
    assert set(stored.documents) == truth.documents
    assert truth.events <= set(stored.events)
    # Besides: Ciência SEFAZ had registered already (573; the company manifested elsewhere and
    # that event is not in the distribution yet) is recorded without XML, so it is not resent.
    for key in set(stored.events) - truth.events:
        event = stored.events[key]
        assert event.type_code == "210210" and event.s3_key is None, key
    assert {k for k, d in stored.documents.items() if d.kind == "FULL"} == truth.full
    assert {k for k, d in stored.documents.items() if d.status == "CANCELLED"} == truth.cancelled
    # Every record's XML is in S3, and nothing else is (the 573 Ciência above has no XML).
    objects = {d.s3_key for d in stored.documents.values()} | {e.s3_key for e in stored.events.values()}
    objects.discard(None)
    assert set(stored.versions) == objects, "one object per record, and no object without one"
    if clean:
        # A summary stored on one page and replaced by its full XML on a later one is the only
        # object written twice (a page holding both writes the full XML alone).
        upgradable = {stored.documents[k].s3_key for k in truth.summarized & truth.full}
        assert set(stored.versions.values()) <= {1, 2}
        assert stored.upgraded <= upgradable
    assert not system.sefaz.ledger, system.sefaz.ledger.describe()
    return stored


def assert_counters_exact(tenant: DemoTenant, executions: list[Execution]) -> None:
    """Each run's record counts exactly what its execution's final state counted."""
    runs = {run.run_id: run for run in runs_of(tenant)}
    for execution in executions:
        if execution.output is not None and execution.output.run_id is not None:
            run, counters = runs[execution.output.run_id], execution.output.counters
            assert (run.pages, run.docs_found, run.docs_saved, run.events_saved) == (
                counters.pages,
                counters.docs_found,
                counters.docs_saved,
                counters.events_saved,
            ), execution.name


def assert_leases_free(system: LocalSystem, tenant: DemoTenant) -> None:
    now = _clock(system).now()
    for family in FAMILIES:
        cursor = SyncCursorRepository().get(tenant.account_id, tenant.company_id, family)
        assert cursor.lease_owner is None or cursor.lease_expired(now), (family, cursor.lease_owner)


# The tests -----------------------------------------------------------------------------------------


def test_a_first_sync_of_a_thousand_documents_stores_each_once(
    system: LocalSystem, new_tenant: Callable[[str], DemoTenant]
) -> None:
    tenant = new_tenant("first")
    assert system.sefaz is not None
    system.sefaz.seed(tenant.cnpj, documents=1000, name=tenant.legal_name, seed=7)

    executions = sync(system, tenant)

    assert [e.status for e in executions] == ["SUCCEEDED", "SUCCEEDED"], executions
    assert all(e.output is not None and e.output.next is Next.FINISH for e in executions)
    stored = assert_stored_exactly_once(system, tenant)
    truth = Distributed.of(system, tenant)
    runs = runs_of(tenant)
    assert sorted(r.status for r in runs) == ["SUCCEEDED", "SUCCEEDED"]
    assert sum(r.docs_found for r in runs) == truth.items
    # Saved: each document once, and once more when its full XML replaced its summary.
    assert sum(r.docs_saved for r in runs) == len(truth.documents) + len(truth.summarized & truth.full)
    assert sum(r.events_saved for r in runs) == len(stored.events)
    assert_counters_exact(tenant, executions)
    assert_leases_free(system, tenant)
    # Auto-Ciência went out for the summaries: they are marked, and SEFAZ will release their XML.
    acknowledged = {k for k, d in stored.documents.items() if d.manifestacao == "CIENCIA"}
    assert acknowledged and acknowledged <= truth.summarized

    # An hour later (and the release delay), the next run brings the full XML: upgraded in place.
    _clock(system).advance(NEXT_CYCLE)
    later = sync(system, tenant, (Family.NFE,))

    upgraded = assert_stored_exactly_once(system, tenant)
    newly_full = {k for k, d in upgraded.documents.items() if d.kind == "FULL"} - {
        k for k, d in stored.documents.items() if d.kind == "FULL"
    }
    assert newly_full and newly_full <= acknowledged
    assert_counters_exact(tenant, later)
    assert_leases_free(system, tenant)


def test_a_day_of_hourly_and_user_runs_breaks_no_rule_and_duplicates_nothing(
    system: LocalSystem, new_tenant: Callable[[str], DemoTenant]
) -> None:
    tenant = new_tenant("day")
    assert system.sefaz is not None
    clock = _clock(system)
    # Documents keep arriving all day long, while the sync runs.
    system.sefaz.seed(
        tenant.cnpj,
        documents=120,
        name=tenant.legal_name,
        since=clock.now(),
        until=clock.now() + timedelta(hours=24),
    )
    rng = random.Random(2026)
    executions: list[str] = []

    for _hour in range(24):
        minute = rng.randrange(60)
        user_presses = rng.random() < 0.6  # "sync now", at a random moment of the hour
        elapsed = 0
        for tick in SCHEDULE_TICKS:
            if user_presses and elapsed <= minute < tick:
                clock.advance(timedelta(minutes=minute - elapsed))
                elapsed = minute
                executions.append(start_run(system, tenant, rng.choice(FAMILIES)))
                settle(system)
            clock.advance(timedelta(minutes=tick - elapsed))
            elapsed = tick
            fire_schedule(system)

    outcomes = [finished(system, arn) for arn in executions]
    assert all(e.status == "SUCCEEDED" for e in outcomes), outcomes
    assert_stored_exactly_once(system, tenant)
    assert_counters_exact(tenant, outcomes)
    assert_leases_free(system, tenant)
    runs = runs_of(tenant)
    assert {r.status for r in runs} <= {"SUCCEEDED"}, Counter(r.status for r in runs)
    assert {r.trigger for r in runs} == {"SCHEDULE", "USER"}
    # SEFAZ allows a query an hour after a caught-up answer, the worker adds its margin, and the
    # schedule ticks every 15 minutes: no family waits longer than that between two runs.
    for family in FAMILIES:
        starts = sorted(r.started_at for r in runs if r.family == family.value)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert max(gaps) <= NEXT_CYCLE + SCHEDULE_PERIOD, (family, max(gaps))
        assert min(gaps) >= timedelta(hours=1), (family, min(gaps))  # and never sooner than allowed


def test_a_long_run_continues_in_new_executions_as_one_run(
    system: LocalSystem, new_tenant: Callable[[str], DemoTenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_tenant("long")
    assert system.sefaz is not None
    system.sefaz.seed(tenant.cnpj, documents=150, name=tenant.legal_name, seed=6)
    # One page per execution instead of a thousand: the run is handed over after every page.
    monkeypatch.setenv(ENV_SYNC_EXECUTION_PAGE_LIMIT, "1")
    get_settings.cache_clear()
    system.use_sync_worker()
    try:
        (first,) = sync(system, tenant, (Family.NFE,))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        system.use_sync_worker()

    assert first.status == "SUCCEEDED" and first.output is not None
    assert first.output.next is Next.CONTINUE
    (run,) = runs_of(tenant)
    continuations = [
        finished(system, e["executionArn"])
        for page in _sfn(system).get_paginator("list_executions").paginate(stateMachineArn=_arn(system))
        for e in page["executions"]
        if e["name"].startswith(f"sync-nfe-{run.run_id}-")
    ]
    assert len(continuations) >= 2, "the run went on in fresh executions, one after the other"
    assert all(e.status == "SUCCEEDED" for e in continuations), continuations
    (last,) = (e for e in continuations if e.output is not None and e.output.next is Next.FINISH)
    assert last.output is not None
    assert all(e.output.next is Next.CONTINUE for e in continuations if e is not last and e.output)
    assert run.status == "SUCCEEDED" and run.pages == last.output.counters.pages > len(continuations)
    assert_counters_exact(tenant, [last])
    assert_stored_exactly_once(system, tenant)
    assert_leases_free(system, tenant)


@pytest.mark.parametrize(
    "point",
    [CrashPoint.AFTER_S3_WRITE, CrashPoint.AFTER_RECORD_WRITE, CrashPoint.BEFORE_CURSOR_WRITE],
)
def test_a_crash_while_storing_a_page_loses_and_duplicates_nothing(
    system: LocalSystem, new_tenant: Callable[[str], DemoTenant], point: CrashPoint
) -> None:
    tenant = new_tenant(f"crash-{point.value.replace('_', '-')}")
    assert system.sefaz is not None
    system.sefaz.seed(tenant.cnpj, documents=80, name=tenant.legal_name, seed=3)
    system.use_sync_worker(crash=CrashAt(point))
    try:
        (crashed,) = sync(system, tenant, (Family.NFE,))
    finally:
        system.use_sync_worker()

    assert crashed.status == "FAILED"
    (failed_run,) = runs_of(tenant)
    assert failed_run.status == "FAILED" and failed_run.error_code == "SimulatedCrash"
    assert failed_run.error_summary and "Nothing stored was lost" in failed_run.error_summary
    assert_leases_free(system, tenant)  # the Catch gave the lease back

    (recovered,) = sync(system, tenant, (Family.NFE,))

    assert recovered.status == "SUCCEEDED" and recovered.output is not None
    assert recovered.output.next is Next.FINISH
    # The page the crash interrupted was replayed from the journal, not asked of SEFAZ again
    # (which would have answered 656): the ledger is empty, and nothing is stored twice.
    assert_stored_exactly_once(system, tenant, clean=False)
    assert_counters_exact(tenant, [recovered])
    assert_leases_free(system, tenant)


def test_a_crash_holding_the_lease_blocks_the_company_only_until_the_lease_expires(
    system: LocalSystem, new_tenant: Callable[[str], DemoTenant]
) -> None:
    tenant = new_tenant("crash-lease")
    assert system.sefaz is not None
    system.sefaz.seed(tenant.cnpj, documents=40, name=tenant.legal_name, seed=4)
    system.use_sync_worker(crash=CrashAt(CrashPoint.HOLDING_LEASE))
    try:
        (crashed,) = sync(system, tenant, (Family.NFE,))
    finally:
        system.use_sync_worker()
    assert crashed.status == "FAILED"

    # The crash came before START handed the lease to the workflow: nobody can give it back, so
    # the company waits for the lease to expire, and only that long.
    (blocked,) = sync(system, tenant, (Family.NFE,))
    assert blocked.output is not None and blocked.output.next is Next.SKIP
    assert blocked.output.message and "already running" in blocked.output.message

    _clock(system).advance(LEASE_TTL + timedelta(seconds=1))
    (recovered,) = sync(system, tenant, (Family.NFE,))

    assert recovered.status == "SUCCEEDED" and recovered.output is not None
    assert recovered.output.next is Next.FINISH
    assert_stored_exactly_once(system, tenant)
    assert_counters_exact(tenant, [recovered])
    assert_leases_free(system, tenant)


class PauseHoldingLease:
    """A crash hook that does not crash: it holds a run at HOLDING_LEASE until released."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()

    def reached(self, point: CrashPoint) -> None:
        if point is CrashPoint.HOLDING_LEASE and not self.holding.is_set():
            self.holding.set()
            assert self.release.wait(60), "the test never released the paused run"


def test_a_second_run_for_the_same_company_does_no_work_while_one_runs(
    system: LocalSystem, new_tenant: Callable[[str], DemoTenant]
) -> None:
    tenant = new_tenant("concurrent")
    assert system.sefaz is not None
    system.sefaz.seed(tenant.cnpj, documents=30, name=tenant.legal_name, seed=5)
    pause = PauseHoldingLease()
    system.use_sync_worker(crash=pause)
    try:
        first = start_run(system, tenant, Family.NFE)
        assert pause.holding.wait(60)
        second = start_run(system, tenant, Family.NFE, Trigger.SCHEDULE)
        deadline = time.monotonic() + 60
        while finished(system, second).status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        skipped = finished(system, second)
        pause.release.set()
        settle(system)
    finally:
        pause.release.set()
        system.use_sync_worker()

    assert skipped.status == "SUCCEEDED" and skipped.output is not None
    assert skipped.output.next is Next.SKIP and skipped.output.run_id is None
    assert skipped.output.message and "already running" in skipped.output.message
    assert finished(system, first).status == "SUCCEEDED"
    assert len(runs_of(tenant)) == 1, "the skipped run opened no run record"
    assert_stored_exactly_once(system, tenant)
    assert_leases_free(system, tenant)


# The roles are enough --------------------------------------------------------------------------


def _required(
    service: str, operation: str, params: dict[str, Any], error: str | None
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one call needs, S3's implicit KMS use included."""
    settings = get_settings()

    def table_arn(name: str) -> str:
        return f"arn:aws:dynamodb:{settings.region}:{LOCAL_ACCOUNT}:table/{name}"

    if service == "dynamodb":
        if "TransactItems" in params:  # authorised as the item actions it is made of
            return [
                (
                    f"dynamodb:{kind}" + ("" if kind == "ConditionCheck" else "Item"),
                    table_arn(item[kind]["TableName"]),
                )
                for entry in params["TransactItems"]
                for kind, item in entry.items()
            ]
        if operation in {"BatchGetItem", "BatchWriteItem"}:
            tables = list(params["RequestItems"])
        else:
            tables = [params["TableName"]]
        arns = [table_arn(t) for t in tables]
        if "IndexName" in params:
            arns = [f"{arns[0]}/index/{params['IndexName']}"]
        return [(f"dynamodb:{operation}", arn) for arn in arns]
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation == "ListObjectsV2":  # authorised on the bucket, whatever the prefix
            return [("s3:ListBucket", bucket)]
        action = {"HeadObject": "GetObject"}.get(operation, operation)
        needed = [(f"s3:{action}", f"{bucket}/{params['Key']}")]
        key_arn = settings.kms_key_id
        if action == "PutObject":
            needed.append(("kms:GenerateDataKey", key_arn))
        if action == "GetObject" and error is None:
            needed.append(("kms:Decrypt", key_arn))
        if error in {"NoSuchKey", "404"}:
            # Without ListBucket, S3 answers a missing key with 403, not 404.
            needed.append(("s3:ListBucket", bucket))
        return needed
    if service == "kms":
        return [(f"kms:{operation}", settings.kms_key_id)]
    if service == "stepfunctions":
        return [(f"states:{operation}", params["stateMachineArn"])]
    return [(f"{service}:{operation}", "*")]


def _policy(system: LocalSystem, handler: str) -> list[dict[str, Any]]:
    """The Allow statements of the role of the function with ``handler``, resolved as deployed."""
    (function,) = (r for r in system.stack.functions.values() if r.handler_path == handler)
    resources = system.template["Resources"]
    role = resources[function.logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        resolve(statement, system.stack.context)
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]


def _allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    def listed(value: Any) -> list[str]:
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    return any(
        any(fnmatchcase(action, pattern) for pattern in listed(s["Action"]))
        and any(fnmatchcase(resource, pattern) for pattern in listed(s["Resource"]))
        for s in statements
    )


def test_the_roles_allow_every_call_made(
    system: LocalSystem, aws_calls: AwsCalls, new_tenant: Callable[[str], DemoTenant]
) -> None:
    # It checks every call of the tests above; run alone, it makes a small sync of its own.
    if not {role for role, *_ in aws_calls.calls} >= {"worker", "fanout"}:
        tenant = new_tenant("roles")
        assert system.sefaz is not None
        system.sefaz.seed(tenant.cnpj, documents=20, name=tenant.legal_name)
        fire_schedule(system)
    needed: dict[str, set[tuple[str, str]]] = {"worker": set(), "fanout": set()}
    for role, service, operation, params, error in aws_calls.calls:
        needed[role].update(_required(service, operation, params, error))
    missing = {
        role: sorted(
            {
                f"{action} {resource}"
                for action, resource in pairs
                if not _allowed(statements, action, resource)
            }
        )
        for role, handler in (("worker", WORKER_HANDLER), ("fanout", FANOUT_HANDLER))
        for statements in [_policy(system, handler)]
        for pairs in [needed[role]]
    }
    assert missing == {"worker": [], "fanout": []}, json.dumps(missing, indent=1)
