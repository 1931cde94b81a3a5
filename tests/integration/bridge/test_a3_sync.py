"""A whole A3 company sync, end to end: started from the API, run by the synthesized workflow in
moto, every SEFAZ exchange made by the real agent with its SoftHSM token over mutual TLS."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from fiscal_core.bridge.runtime import Bridge
from fiscal_core.settings import get_settings
from fiscal_core.sync.runtime import build_worker
from fiscalmix_agent.errors import ExchangeTimeout
from functions.sync_worker import handler
from local.fixtures.identities import cnpj_from_body
from local.sefaz import SeededCompany
from local.sefaz.service import Service
from local.system import LocalSystem
from tests.agent.bridge import AgentThread, wait_for
from tests.integration.api.client import Api, Users
from tests.integration.bridge.conftest import Tenant, new_tenant, paired_agent
from tests.softhsm import COMPANY_CNPJ

pytestmark = pytest.mark.slow
RUN_TIMEOUT_S = 120.0


def _wait_for_runs(api: Api, tenant: Tenant, families: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = api.call("GET", f"/companies/{tenant.company_id}/sync-runs", tenant.token)
        assert runs.status == 200, runs.body
        items = runs.body["items"]
        if len(items) >= families and all(r["status"] != "RUNNING" for r in items):
            return list(items)
        time.sleep(0.5)
    raise AssertionError("the sync runs did not finish")


def _wait_for_the_a3_certificate(api: Api, tenant: Tenant) -> None:
    """Until the agent's hello has made the token's certificate the company's (its only one)."""

    def kinds() -> list[str]:
        listed = api.call("GET", f"/companies/{tenant.company_id}/certificates", tenant.token)
        return [c["kind"] for c in listed.body["items"]]

    wait_for(lambda: kinds() == ["A3"], what="the A3 certificate from the agent's hello")


def _a3_company_online(
    system: LocalSystem, api: Api, ws_url: str, bridge: Bridge, tenant: Tenant,
    start_agent: Callable[[str], AgentThread], *, documents: int,
) -> tuple[SeededCompany, AgentThread]:  # fmt: skip
    """The tenant's CNPJ seeded, its agent paired and started, the token's certificate its A3."""
    assert system.sefaz is not None
    seeded = system.sefaz.seed(tenant.cnpj, documents=documents, name="EMPRESA A3 LTDA")
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    agent = start_agent(credential)
    _wait_for_the_a3_certificate(api, tenant)
    return seeded, agent


def _sync_waiting_for_the_agent(api: Api, tenant: Tenant, *, timeout_seconds: int) -> dict[str, object]:
    """Start an NF-e sync whose workflow waits ``timeout_seconds`` (300 by default) for each answer."""
    settings = get_settings().model_copy(update={"sync_agent_timeout_seconds": timeout_seconds})
    handler.use_worker(build_worker(settings))
    try:
        started = api.call(
            "POST", f"/companies/{tenant.company_id}/sync", tenant.token, body={"families": ["NFE"]}
        )
        assert started.status == 202, started.body
        (run,) = _wait_for_runs(api, tenant, 1)
    finally:
        handler.use_worker(None)
    return run


def test_an_a3_company_syncs_through_the_workflow_and_its_agent(
    system: LocalSystem,
    api: Api,
    ws_url: str,
    bridge: Bridge,
    tenant: Tenant,
    run_agent: Callable[..., AgentThread],
) -> None:
    seeded, agent = _a3_company_online(system, api, ws_url, bridge, tenant, run_agent, documents=30)

    started = api.call(
        "POST", f"/companies/{tenant.company_id}/sync", tenant.token, body={"families": ["NFE"]}
    )
    assert started.status == 202, started.body
    (run,) = _wait_for_runs(api, tenant, 1)

    assert run["status"] == "SUCCEEDED", run
    documents = api.call("GET", f"/documents?company_id={tenant.company_id}&limit=100", tenant.token)
    assert documents.status == 200, documents.body
    # Everything SEFAZ handed out came through the token, and was counted and stored.
    assert system.sefaz is not None
    served = system.sefaz.engine.log(Service.NFE_DIST, tenant.cnpj).items()
    assert sum(seeded.queued.values()) > 0 and len(served) > 0
    assert run["counters"]["docs_found"] == len(served)  # type: ignore[index]
    assert {d["access_key"] for d in documents.body["items"]} == {i.key for i in served if i.key}
    assert agent.client.connections >= 1


def test_a_manifestacao_of_an_a3_company_is_queued_then_signed_on_the_token(
    system: LocalSystem,
    api: Api,
    users: Users,
    ws_url: str,
    bridge: Bridge,
    run_agent: Callable[..., AgentThread],
) -> None:
    # A branch of the token's CNPJ root: SEFAZ's hour since the other tests' syncs is per CNPJ.
    tenant = new_tenant(api, users, cnpj_from_body(COMPANY_CNPJ[:8] + "0002"))
    _a3_company_online(system, api, ws_url, bridge, tenant, run_agent, documents=12)
    started = api.call(
        "POST", f"/companies/{tenant.company_id}/sync", tenant.token, body={"families": ["NFE"]}
    )
    assert started.status == 202, started.body
    _wait_for_runs(api, tenant, 1)
    listed = api.call("GET", f"/documents?company_id={tenant.company_id}&limit=100", tenant.token)
    received = next(
        d for d in listed.body["items"]
        if d["direction"] == "IN" and d["status"] == "AUTHORIZED" and d["model"] == "55"
    )  # fmt: skip

    # SEFAZ's distribution must now wait an hour; the manifestação does not.
    body = {"type": "confirmacao"}
    queued = api.call("POST", f"/documents/{received['id']}/manifestacao", tenant.token, body=body)

    assert queued.status == 202, queued.body
    assert queued.body["outcome"] == "QUEUED"
    runs = _wait_for_runs(api, tenant, 2)
    assert all(r["status"] == "SUCCEEDED" for r in runs), runs
    document = api.call("GET", f"/documents/{received['id']}", tenant.token)
    assert document.body["manifestacao"] == "CONFIRMADA", document.body
    trail = api.call("GET", f"/audit-logs?entity_type=document&entity_id={received['id']}", tenant.token)
    assert [e["action"] for e in trail.body["items"]][:2] == [
        "document.manifestacao",
        "document.manifestacao_queued",
    ]


def test_an_offline_agent_makes_the_run_wait_then_fail_saying_since_when(
    system: LocalSystem,
    api: Api,
    ws_url: str,
    bridge: Bridge,
    tenant: Tenant,
    run_agent: Callable[..., AgentThread],
) -> None:
    _, agent = _a3_company_online(system, api, ws_url, bridge, tenant, run_agent, documents=3)
    agent.stop()  # the computer with the token is switched off
    run = _sync_waiting_for_the_agent(api, tenant, timeout_seconds=2)

    assert run["status"] == "FAILED", run
    summary = str(run["error_summary"])
    assert "waited 2 s for the company's FiscalMix agent" in summary and "agent offline since" in summary
    status = api.call("GET", f"/companies/{tenant.company_id}/sync-status", tenant.token)
    nfe = next(f for f in status.body["families"] if f["family"] == "NFE")
    assert "agent offline since" in str(nfe["last_error"]), nfe
    # Nothing was fetched, so nothing is lost: the cursor did not move.
    assert nfe["last_nsu"] in (None, "0" * 15), nfe


class _SilentTransport:
    """A SEFAZ exchange that takes longer than the workflow waits: the agent is online but slow."""

    def __init__(self, released: threading.Event) -> None:
        self._released = released

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        read_timeout: float | None = None,
    ) -> Any:
        self._released.wait(30)
        raise ExchangeTimeout("SEFAZ did not answer in time.")


def test_a_request_the_agent_does_not_answer_in_time_fails_the_run(
    system: LocalSystem,
    api: Api,
    ws_url: str,
    bridge: Bridge,
    tenant: Tenant,
    run_agent: Callable[..., AgentThread],
) -> None:
    released = threading.Event()
    silent = functools.partial(run_agent, transports=lambda signer: _SilentTransport(released))
    _a3_company_online(system, api, ws_url, bridge, tenant, silent, documents=3)
    try:
        run = _sync_waiting_for_the_agent(api, tenant, timeout_seconds=2)
    finally:
        released.set()

    assert run["status"] == "FAILED", run
    summary = str(run["error_summary"])
    # The agent is there, so the words say it did not answer, not that it is offline.
    assert "waited 2 s for the company's FiscalMix agent" in summary and "agent online on" in summary
    agents = api.call("GET", f"/companies/{tenant.company_id}/agents", tenant.token)
    assert agents.body["items"][0]["online"] is True, agents.body
