"""Pairing, connecting, heartbeats and revocation, with the real agent on the local gateways."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from fiscal_core.bridge.runtime import Bridge
from fiscal_core.bridge.secrets import secret_hash
from fiscal_core.storage.agents import PAIRING_LIFETIME
from fiscalmix_agent.errors import AuthenticationRefused, PairingFailed
from fiscalmix_agent.pairing import new_credential
from tests.agent.bridge import AgentThread, wait_for
from tests.integration.api.client import Api, Users
from tests.integration.bridge.conftest import (
    MovableClock,
    Tenant,
    claim,
    new_tenant,
    paired_agent,
    start_pairing,
)
from tests.softhsm import SoftToken


def agents_of(api: Api, tenant: Tenant) -> list[dict[str, object]]:
    reply = api.call("GET", f"/companies/{tenant.company_id}/agents", tenant.token)
    assert reply.status == 200, reply.body
    items: list[dict[str, object]] = reply.body["items"]
    return items


def refused_status(ws_url: str, headers: dict[str, str], query: str = "") -> int:
    """The HTTP status of a handshake the bridge refuses (the test fails if it is accepted)."""

    async def attempt() -> int:
        try:
            async with connect(ws_url + query, additional_headers=headers, open_timeout=10):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


def test_pairing_end_to_end(
    api: Api, ws_url: str, bridge: Bridge, tenant: Tenant, token: SoftToken,
    run_agent: Callable[..., AgentThread],
) -> None:  # fmt: skip
    pairing = start_pairing(ws_url, bridge)
    reply = claim(api, tenant, f" {pairing.code[:4].lower()}-{pairing.code[4:]} ")  # as a person types it
    assert reply.status == 201, reply.body
    agent_id = reply.body["agent_id"]
    result = pairing.join()
    assert result.paired.agent_id == agent_id
    assert result.paired.company == {"cnpj": tenant.cnpj, "name": "EMPRESA A3 LTDA"}
    assert result.paired.sefaz_ca_pem and "BEGIN CERTIFICATE" in result.paired.sefaz_ca_pem
    stored = bridge.agents.get(tenant.account_id, agent_id)
    assert stored.credential_hash == secret_hash(result.credential) != result.credential

    run_agent(result.credential)
    wait_for(lambda: agents_of(api, tenant)[0]["certificate_ids"] != [], what="the agent's hello")
    (shown,) = agents_of(api, tenant)
    assert shown["online"] is True
    assert shown["agent_id"] == agent_id and shown["status"] == "ACTIVE"
    assert shown["agent_version"] and shown["token_ready"] is True
    assert "(" in str(shown["machine"]) and shown["last_heartbeat_at"]
    # The hello made the token's certificate the company's A3 certificate, and the one in use.
    certificates = api.call("GET", f"/companies/{tenant.company_id}/certificates", tenant.token).body["items"]
    (a3,) = [c for c in certificates if c["kind"] == "A3"]
    assert a3["fingerprint_sha256"] == token.certificate.fingerprint(hashes.SHA256()).hex()
    assert a3["cnpj"] == tenant.cnpj and a3["in_use"] is True
    assert shown["certificate_ids"] == [a3["certificate_id"]]
    actions = [e["action"] for e in api.call("GET", "/audit-logs", tenant.token).body["items"]]
    assert "agent.pair" in actions


def test_heartbeats_move_the_last_heartbeat(
    api: Api, ws_url: str, bridge: Bridge, tenant: Tenant, run_agent: Callable[..., AgentThread]
) -> None:
    agent_id, credential = paired_agent(api, ws_url, bridge, tenant)
    run_agent(credential)
    wait_for(
        lambda: (
            (c := bridge.connections.for_agent(tenant.account_id, agent_id)) is not None
            and c.hello_at is not None
        )
    )
    first = bridge.connections.for_agent(tenant.account_id, agent_id)
    assert first is not None
    wait_for(
        lambda: (
            (c := bridge.connections.for_agent(tenant.account_id, agent_id)) is not None
            and c.last_heartbeat_at > first.last_heartbeat_at
        ),
        what="a heartbeat",
    )
    assert bridge.agents.get(tenant.account_id, agent_id).last_seen_at is not None


def test_connect_without_a_valid_credential_is_refused(
    api: Api, ws_url: str, bridge: Bridge, tenant: Tenant, run_agent: Callable[..., AgentThread]
) -> None:
    assert refused_status(ws_url, {}) == 401
    assert refused_status(ws_url, {"Authorization": "Bearer not-a-credential"}) == 401
    assert refused_status(ws_url, {"Authorization": f"Bearer {new_credential()}"}) == 401
    # A malformed pairing code is refused too, credential or not.
    assert (
        refused_status(ws_url, {"Authorization": f"Bearer {new_credential()}"}, "?pairing_code=0OIL1") == 403
    )
    agent = run_agent(new_credential(), hello=False)
    agent.join(10)
    assert isinstance(agent.error, AuthenticationRefused)


def test_a_pairing_code_is_single_use(
    api: Api, users: Users, ws_url: str, bridge: Bridge, tenant: Tenant
) -> None:
    pairing = start_pairing(ws_url, bridge)
    assert claim(api, tenant, pairing.code).status == 201
    pairing.join()
    again = claim(api, tenant, pairing.code)
    assert again.status == 422 and "already used" in again.body["detail"]
    other = new_tenant(api, users)
    assert claim(api, other, pairing.code).status == 422
    # Nor can another agent show the used code again.
    assert (
        refused_status(
            ws_url, {"Authorization": f"Bearer {new_credential()}"}, f"?pairing_code={pairing.code}"
        )
        == 403
    )
    unknown = claim(api, tenant, "ABCD2345")
    assert unknown.status == 422 and "No agent is showing" in unknown.body["detail"]
    malformed = claim(api, tenant, "0000")
    assert malformed.status == 422 and "8 letters" in malformed.body["detail"]


def test_a_pairing_code_expires_after_ten_minutes(
    api: Api, ws_url: str, bridge: Bridge, clock: MovableClock, tenant: Tenant
) -> None:
    pairing = start_pairing(ws_url, bridge, lifetime_s=3.0)
    clock.offset = PAIRING_LIFETIME - timedelta(seconds=5)
    pending = bridge.routes._pairings.get(secret_hash(pairing.code))
    assert pending is not None and pending.valid_until - pending.created_at == timedelta(minutes=10)
    clock.offset = PAIRING_LIFETIME + timedelta(seconds=1)
    reply = claim(api, tenant, pairing.code)
    assert reply.status == 422 and "expired" in reply.body["detail"]
    with pytest.raises(PairingFailed):
        pairing.join()
    assert bridge.agents.for_company(tenant.account_id, tenant.company_id) == []


def test_pairing_needs_a_company_admin_of_ones_own_account(
    api: Api, users: Users, ws_url: str, bridge: Bridge, tenant: Tenant
) -> None:
    pairing = start_pairing(ws_url, bridge)
    other = new_tenant(api, users)
    stranger = api.call(
        "POST",
        f"/companies/{tenant.company_id}/certificates/a3/pair",
        other.token,
        body={"code": pairing.code},
    )
    assert stranger.status == 404
    assert api.call("GET", f"/companies/{tenant.company_id}/agents", other.token).status == 404
    assert claim(api, tenant, pairing.code).status == 201
    pairing.join()


def test_a_revoked_agent_is_cut_off_at_once_and_cannot_reconnect(
    api: Api, ws_url: str, bridge: Bridge, tenant: Tenant, run_agent: Callable[..., AgentThread]
) -> None:
    agent_id, credential = paired_agent(api, ws_url, bridge, tenant)
    agent = run_agent(credential)
    wait_for(lambda: agents_of(api, tenant)[0]["online"] is True, what="the agent online")
    reply = api.call("POST", f"/companies/{tenant.company_id}/agents/{agent_id}/revoke", tenant.token)
    assert reply.status == 204, reply.body
    # Closed by the bridge; the agent's reconnect is refused and it stops, telling the user to pair.
    agent.join(10)
    assert isinstance(agent.error, AuthenticationRefused)
    assert bridge.connections.for_agent(tenant.account_id, agent_id) is None
    (shown,) = agents_of(api, tenant)
    assert shown["status"] == "REVOKED" and shown["online"] is False and shown["revoked_at"]
    certificates = api.call("GET", f"/companies/{tenant.company_id}/certificates", tenant.token).body["items"]
    assert all(c["status"] == "REVOKED" for c in certificates if c["kind"] == "A3")
    assert refused_status(ws_url, {"Authorization": f"Bearer {credential}"}) == 403
    missing = api.call("POST", f"/companies/{tenant.company_id}/agents/agt_nope/revoke", tenant.token)
    assert missing.status == 404
