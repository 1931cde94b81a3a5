"""Wiring: the worker and the fan-out built from the settings, once per cold start.

Handlers call :func:`build_worker` / :func:`build_fan_out` lazily on their first invocation, so
importing a handler reads no environment. Tests and the local system pass their own clock (the
SEFAZ simulator's) and crash hook.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from fiscal_core.bridge.calls import AgentCall
from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.sefaz.environments import HOMOLOGATION, PRODUCTION, Environment, local_environment
from fiscal_core.sefaz.tls import TlsSettings
from fiscal_core.settings import ENV_SEFAZ_BASE_URL, ENV_SEFAZ_CA_FILE, ENV_SYNC_STATE_MACHINE_ARN, Settings
from fiscal_core.storage.agents import AgentRequestRepository
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.budget import ConsultationBudget
from fiscal_core.storage.certificates import CertificateRepository
from fiscal_core.storage.companies import CompanyRepository
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.sync_runs import SyncRunRepository
from fiscal_core.storage.tables import bind_tables
from fiscal_core.sync.ciencia import AutoCiencia
from fiscal_core.sync.continuation import StepFunctionsContinuation
from fiscal_core.sync.crash import NO_CRASHES, CrashPoints
from fiscal_core.sync.credentials import CredentialsProvider
from fiscal_core.sync.deps import SyncDeps
from fiscal_core.sync.event_lots import EventLots
from fiscal_core.sync.fan_out import FanOut
from fiscal_core.sync.journal import PageJournal
from fiscal_core.sync.notes import NotesStore
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.page_records import PageRecords
from fiscal_core.sync.page_store import PageStore
from fiscal_core.sync.policy import SyncPolicy
from fiscal_core.sync.queued_manifestacoes import ManifestacaoQueue, QueuedManifestacoes
from fiscal_core.sync.runs import RunBook
from fiscal_core.sync.services import SefazServices
from fiscal_core.sync.single_queries import Allowance, SingleQueryWork
from fiscal_core.sync.worker import SyncWorker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Clock = Callable[[], datetime]


def sefaz_environment(settings: Settings) -> Environment:
    """The endpoints the settings name; ``local`` needs the simulator's base URL."""
    if settings.sefaz_environment == "production":
        return PRODUCTION
    if settings.sefaz_environment == "homologation":
        return HOMOLOGATION
    if not settings.sefaz_base_url:
        raise ValueError(
            f"FISCALMIX_SEFAZ_ENVIRONMENT=local needs {ENV_SEFAZ_BASE_URL} (the simulator's URL)"
        )
    return local_environment(settings.sefaz_base_url)


def tls_settings(settings: Settings) -> TlsSettings:
    """The roots that vouch for SEFAZ's servers; there is no implicit default."""
    if not settings.sefaz_ca_file and not settings.sefaz_ca_pem:
        raise ValueError(
            f"set {ENV_SEFAZ_CA_FILE} (or FISCALMIX_SEFAZ_CA_PEM) to the CA bundle that verifies "
            "SEFAZ's and the ADN's servers (ICP-Brasil roots in production)"
        )
    return TlsSettings(ca_file=settings.sefaz_ca_file, ca_pem=settings.sefaz_ca_pem)


def _client(service: str, settings: Settings, **config: Any) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(**config) if config else None,
    )


def build_worker(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    crash: CrashPoints = NO_CRASHES,
    environment: Environment | None = None,
) -> SyncWorker:
    """The worker of the deployment ``settings`` describe."""
    bind_tables(settings.table_prefix)
    policy = SyncPolicy.from_settings(settings)
    executor = ThreadPoolExecutor(policy.store_threads, thread_name_prefix="sync-store")
    # One pooled connection per storing thread, plus the step's own calls.
    s3: S3Client = _client("s3", settings, max_pool_connections=policy.store_threads + 4)
    objects = ObjectStore(s3, settings.documents_bucket, executor)
    documents = DocumentRepository(clock=clock)
    notes = NotesStore(objects)
    cursors = SyncCursorRepository(clock=clock)
    store = PageStore(objects, PageRecords(clock), documents, notes, executor, crash, clock)
    credentials = CredentialsProvider(
        CertificateRepository(),
        EnvelopeCipher(_client("kms", settings), settings.kms_key_id),
        tls_settings(settings),
        clock=clock,
        blobs=objects.get,
    )
    allowance = Allowance(cursors, ConsultationBudget(clock=clock), clock)
    lots, audit = EventLots(documents, store, clock), AuditRepository()
    deps = SyncDeps(
        clock=clock,
        policy=policy,
        crash=crash,
        companies=CompanyRepository(),
        cursors=cursors,
        runs=RunBook(SyncRunRepository(clock=clock), audit, clock),
        journal=PageJournal(objects),
        notes=notes,
        store=store,
        ciencia=AutoCiencia(documents, lots, clock),
        queued=QueuedManifestacoes(ManifestacaoQueue(objects), documents, lots, audit, clock),
        single=SingleQueryWork(documents, store, allowance, policy, clock),
        credentials=credentials,
        services=SefazServices(environment or sefaz_environment(settings), clock),
        continuation=(
            StepFunctionsContinuation(_client("stepfunctions", settings), settings.sync_state_machine_arn)
            if settings.sync_state_machine_arn
            else None
        ),
        agent_objects=objects,
        agents=AgentDirectory(clock),
        agent_requests=AgentRequestLog(clock),
    )
    return SyncWorker(deps)


class AgentDirectory:
    """The bridge's view of a company's agent, for the sync's failure messages."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def describe(self, account_id: str, company_id: str) -> str:
        """The agent's state in words."""
        from fiscal_core.bridge.status import status_for_company

        return status_for_company(account_id, company_id, clock=self._clock).describe()


class AgentRequestLog:
    """Creates the bridge's request item of each new agent call (PENDING, until dispatched)."""

    def __init__(self, clock: Clock) -> None:
        self._requests = AgentRequestRepository(clock)

    def __call__(self, call: AgentCall) -> None:
        """Record ``call``; idempotent, as a replayed step may record it again."""
        self._requests.create(
            call.account_id, call.request_id, call.company_id, call.certificate_id, call.action.value,
            fingerprint=call.fingerprint,
        )  # fmt: skip


def build_fan_out(settings: Settings, *, clock: Clock = utc_now) -> FanOut:
    """The scheduled fan-out of the deployment ``settings`` describe."""
    if not settings.sync_state_machine_arn:
        raise ValueError(f"the fan-out needs {ENV_SYNC_STATE_MACHINE_ARN}: the sync workflow to start")
    bind_tables(settings.table_prefix)
    return FanOut(
        SyncCursorRepository(clock=clock),
        _client("stepfunctions", settings),
        settings.sync_state_machine_arn,
        clock,
    )
