"""Wiring: the bridge built from the settings, once per cold start (never at import).

The WebSocket routes, the dispatch task and the API's pairing and revocation all use the one
:class:`Bridge` of their process. AWS clients are built on first use, so the API, which only
posts ``paired`` and closes connections, never builds S3 or Step Functions clients for it.
Tests and the local system build their own with :func:`build_bridge` (a clock, no index retries)
and install it with :func:`use_bridge`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from fiscal_core.bridge.certificates import A3Registrar
from fiscal_core.bridge.channel import AgentChannel
from fiscal_core.bridge.objects import CallStore, TaskTokens
from fiscal_core.bridge.pairing import PairingService
from fiscal_core.bridge.replies import ReplyDesk
from fiscal_core.bridge.revocation import Revocation
from fiscal_core.bridge.routes import INDEX_RETRY_DELAYS, BridgeRoutes
from fiscal_core.bridge.sender import Dispatcher
from fiscal_core.bridge.settings import BridgeSettings, get_bridge_settings
from fiscal_core.settings import Settings, get_settings
from fiscal_core.storage.agents import (
    A3CertificateBinding,
    AgentRepository,
    AgentRequestRepository,
    ConnectionRepository,
    PairingRepository,
)
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.certificates import CertificateRepository
from fiscal_core.storage.companies import CompanyRepository
from fiscal_core.storage.tables import bind_tables

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Bridge:
    """Everything the bridge's functions and the API's agent routes use."""

    routes: BridgeRoutes
    dispatcher: Dispatcher
    pairing: PairingService
    revocation: Revocation
    agents: AgentRepository
    connections: ConnectionRepository
    requests: AgentRequestRepository
    clock: Clock


def _client(
    service: str, settings: Settings, endpoint_url: str | None = None, **config: Any
) -> Callable[[], Any]:
    def build() -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=settings.region,
            endpoint_url=endpoint_url or settings.aws_endpoint_url,
            config=Config(**config) if config else None,
        )

    return build


def sefaz_ca_pem(settings: Settings) -> Callable[[], str | None]:
    """The CA bundle handed to agents at pairing: the one the cloud's own SEFAZ clients trust."""

    def read() -> str | None:
        if settings.sefaz_ca_pem:
            return settings.sefaz_ca_pem
        if settings.sefaz_ca_file:
            return Path(settings.sefaz_ca_file).read_text(encoding="ascii")
        return None

    return read


def build_bridge(
    settings: Settings,
    bridge_settings: BridgeSettings,
    *,
    clock: Clock = utc_now,
    retry_delays: Sequence[float] = INDEX_RETRY_DELAYS,
) -> Bridge:
    """The bridge of the deployment ``settings`` describe."""
    bind_tables(settings.table_prefix)
    agents, connections = AgentRepository(clock), ConnectionRepository(clock)
    requests, pairings = AgentRequestRepository(clock), PairingRepository(clock)
    certificates, companies = CertificateRepository(), CompanyRepository()
    # The management API's endpoint is per API and stage; only set locally is the generic one.
    management = _client("apigatewaymanagementapi", settings, bridge_settings.management_url)
    channel = AgentChannel(management, connections)
    # Signature V4 links: the documents bucket is SSE-KMS.
    s3 = _client("s3", settings, signature_version="s3v4")
    calls = CallStore(s3, settings.documents_bucket, bridge_settings.link_seconds)
    tokens = TaskTokens(_client("stepfunctions", settings))
    dispatcher = Dispatcher(
        requests=requests, connections=connections, agents=agents, channel=channel, calls=calls,
        tokens=tokens, clock=clock,
    )  # fmt: skip
    registrar = A3Registrar(
        certificates, companies, A3CertificateBinding(), clock, keep_der=calls.put_certificate
    )
    routes = BridgeRoutes(
        agents=agents, connections=connections, pairings=pairings, requests=requests, channel=channel,
        registrar=registrar,
        dispatcher=dispatcher, replies=ReplyDesk(requests, calls, tokens, clock), clock=clock,
        retry_delays=retry_delays,
    )  # fmt: skip
    return Bridge(
        routes=routes,
        dispatcher=dispatcher,
        pairing=PairingService(pairings, agents, channel, clock, sefaz_ca_pem(settings)),
        revocation=Revocation(agents, connections, certificates, companies, channel, clock),
        agents=agents,
        connections=connections,
        requests=requests,
        clock=clock,
    )


_bridge: Bridge | None = None


def get_bridge() -> Bridge:
    """The process's bridge, built from the environment on first use."""
    global _bridge  # noqa: PLW0603 - one bridge per warm container, built lazily
    if _bridge is None:
        _bridge = build_bridge(get_settings(), get_bridge_settings())
    return _bridge


def use_bridge(replacement: Bridge | None) -> None:
    """Make every caller use ``replacement`` (a test's or the local system's; None rebuilds lazily)."""
    global _bridge  # noqa: PLW0603
    _bridge = replacement
