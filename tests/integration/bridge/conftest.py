"""The A3 bridge end to end: the product stack on one machine, the real agent, a SoftHSM2 token.

One LocalSystem for the package on a stage of its own ("bridgetest"): the WebSocket API CDK
synthesizes runs on the local WebSocket gateway, the API on the local HTTP gateway, and agents
are ``fiscalmix_agent`` clients with their token on SoftHSM2 (tests/agent's fixtures). The bridge
is rebuilt with a clock the tests can move (pairing codes expire) and without the index retries
(moto's indexes are never behind), so a refused credential is refused at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fiscal_core.api.services import get_services
from fiscal_core.bridge.runtime import Bridge, build_bridge, use_bridge
from fiscal_core.bridge.secrets import secret_hash
from fiscal_core.bridge.settings import get_bridge_settings
from fiscal_core.settings import get_settings
from fiscalmix_agent.client import AgentClient, Timing
from fiscalmix_agent.pairing import PairingResult, new_credential, new_pairing_code, pair
from fiscalmix_agent.service import RequestService, TransportFactory, token_transports
from fiscalmix_agent.token import TokenSession
from fiscalmix_agent.trust import HostPolicy, ServerVerifier, load_bundle
from local.synth import synthesize_template
from local.system import LocalOptions, LocalSystem
from tests.agent.bridge import AgentThread, wait_for
from tests.integration.api.client import Api, Login, Users
from tests.softhsm import COMPANY_CNPJ, SOFTHSM_MODULE, USER_PIN, SoftToken

STAGE = "bridgetest"
FAST = Timing(
    heartbeat_s=0.3, backoff_base_s=0.05, backoff_max_s=0.3, stable_after_s=0.5, open_timeout_s=10.0,
    ping_interval_s=None,
)  # fmt: skip


class MovableClock:
    """The wall clock plus an offset a test may move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="package")
def system() -> Iterator[LocalSystem]:
    get_services.cache_clear()
    get_settings.cache_clear()
    options = LocalOptions(stage=STAGE, template=synthesize_template(STAGE), start_schedules=False)
    running = LocalSystem(options)
    running.start()
    yield running
    running.stop()
    get_services.cache_clear()
    get_settings.cache_clear()


@pytest.fixture(scope="package")
def clock(system: LocalSystem) -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="package")
def bridge(system: LocalSystem, clock: MovableClock) -> Bridge:
    """The bridge every handler of the system uses, on the movable clock."""
    built = build_bridge(get_settings(), get_bridge_settings(), clock=clock.now, retry_delays=())
    use_bridge(built)
    return built


@pytest.fixture(autouse=True)
def _clock_back(clock: MovableClock) -> Iterator[None]:
    yield
    clock.offset = timedelta(0)


@pytest.fixture(scope="package")
def api(system: LocalSystem) -> Api:
    return Api(next(iter(system.http_gateways.values())).url)


@pytest.fixture(scope="package")
def ws_url(system: LocalSystem, bridge: Bridge) -> str:
    return next(iter(system.ws_gateways.values())).url


@pytest.fixture(scope="package")
def users(system: LocalSystem) -> Users:
    return Users(system)


@dataclass
class Tenant:
    """A signed-up owner and one company of their account."""

    login: Login
    account_id: str
    company_id: str
    cnpj: str

    @property
    def token(self) -> str:
        return self.login.access_token


_tenants = iter(range(1_000_000))


def new_tenant(api: Api, users: Users, cnpj: str = COMPANY_CNPJ) -> Tenant:
    login = users.sign_up(f"owner{next(_tenants)}-{time.time_ns()}@bridge.test")
    me = api.call("GET", "/me", login.access_token)
    assert me.status == 200, me.body
    company = api.call(
        "POST",
        "/companies",
        login.access_token,
        body={"cnpj": cnpj, "legal_name": "EMPRESA A3 LTDA", "uf": "SP"},
    )
    assert company.status == 201, company.body
    return Tenant(login, me.body["account"]["account_id"], company.body["company_id"], cnpj)


@pytest.fixture
def tenant(api: Api, users: Users) -> Tenant:
    return new_tenant(api, users)


@dataclass
class Pairing:
    """An agent running ``fiscalmix-agent pair`` in a thread."""

    code: str
    credential: str
    results: list[PairingResult] = field(default_factory=list)
    error: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    def join(self, timeout: float = 15.0) -> PairingResult:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "pairing did not finish"
        if self.error:
            raise self.error[0]
        return self.results[0]


def start_pairing(ws_url: str, bridge: Bridge, lifetime_s: float = 15.0) -> Pairing:
    """Run the agent's pairing until its code is recorded by the bridge."""
    pairing = Pairing(new_pairing_code(), new_credential())

    def run() -> None:
        try:
            asyncio.run(
                pair(
                    ws_url,
                    pairing.code,
                    pairing.credential,
                    pairing.results.append,
                    timing=FAST,
                    lifetime_s=lifetime_s,
                )
            )
        except BaseException as exc:  # the test asserts on it
            pairing.error.append(exc)

    pairing.thread = threading.Thread(target=run, name="agent-pair", daemon=True)
    pairing.thread.start()
    pairings = bridge.routes._pairings  # the repository the routes write to
    wait_for(lambda: pairings.get(secret_hash(pairing.code)) is not None, what="the pending pairing")
    return pairing


def claim(api: Api, tenant: Tenant, code: str) -> Any:
    return api.call(
        "POST", f"/companies/{tenant.company_id}/certificates/a3/pair", tenant.token, body={"code": code}
    )


def paired_agent(api: Api, ws_url: str, bridge: Bridge, tenant: Tenant) -> tuple[str, str]:
    """Pair a new agent with the tenant's company: its agent id and credential."""
    pairing = start_pairing(ws_url, bridge)
    reply = claim(api, tenant, pairing.code)
    assert reply.status == 201, reply.body
    result = pairing.join()
    assert result.paired.agent_id == reply.body["agent_id"]
    return result.paired.agent_id, result.credential


def token_service(
    soft_token: SoftToken, system: LocalSystem, transports: TransportFactory | None = None
) -> RequestService:
    """The agent's request service over the SoftHSM token, talking to the SEFAZ simulator."""
    session = TokenSession(SOFTHSM_MODULE, label=soft_token.label)
    session.open(lambda _: USER_PIN)
    assert system.sefaz is not None
    verifier = ServerVerifier(load_bundle(system.sefaz.ca_pem, "simulator"))
    return RequestService(
        session, transports or token_transports(verifier, HostPolicy((".gov.br", "127.0.0.1")))
    )


@pytest.fixture
def run_agent(
    system: LocalSystem,
    ws_url: str,
    token: SoftToken,
) -> Iterator[Callable[..., AgentThread]]:
    """Start agents (stopped after the test); each waits until the bridge has its hello."""
    started: list[tuple[AgentThread, RequestService]] = []

    def start(
        credential: str, transports: TransportFactory | None = None, *, hello: bool = True
    ) -> AgentThread:
        service = token_service(token, system, transports)
        agent = AgentThread(AgentClient(ws_url, credential, service, timing=FAST)).start()
        started.append((agent, service))
        if hello:
            wait_for(lambda: agent.client.connections >= 1, what="the agent's connection")
        return agent

    yield start
    for agent, service in started:
        agent.stop()
        service.token.close()
