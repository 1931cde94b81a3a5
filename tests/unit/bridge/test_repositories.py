"""The bridge's repositories on moto's DynamoDB: the conditional writes that keep it safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fiscal_core.storage.agents import (
    AgentRecord,
    AgentRepository,
    AgentRequestRepository,
    ConnectionRepository,
    PairingRefused,
    PairingRepository,
    RequestStatus,
)
from tests.unit.storage.conftest import aws as aws  # moto and the tables, as the storage tests have them
from tests.unit.storage.conftest import created_tables as created_tables
from tests.unit.storage.conftest import tables as tables

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _pending(pairings: PairingRepository, code: str = "c", credential: str = "k") -> Any:
    return pairings.record_pending(
        code, agent_id="agt_1", credential_hash=credential, connection_id="conn-1", source_ip="1.2.3.4",
        user_agent="fiscalmix-agent/0.1.0",
    )  # fmt: skip


def test_a_pairing_code_is_claimed_once(tables: Any) -> None:
    pairings = PairingRepository(Clock())
    assert _pending(pairings) is not None
    claimed = pairings.claim("c", account_id="acc", company_id="co", user_id="u")
    assert claimed.status == "CLAIMED" and claimed.account_id == "acc"
    with pytest.raises(PairingRefused) as caught:
        pairings.claim("c", account_id="other", company_id="co2", user_id="u2")
    assert caught.value.reason == "used"
    assert _pending(pairings) is None  # nor can it be shown again
    with pytest.raises(PairingRefused, match="unknown"):
        pairings.claim("nope", account_id="acc", company_id="co", user_id="u")


def test_a_pairing_code_expires_after_ten_minutes(tables: Any) -> None:
    clock = Clock()
    pairings = PairingRepository(clock)
    _pending(pairings)
    clock.now = START + timedelta(minutes=9, seconds=59)
    assert _pending(pairings) is not None  # the same agent reconnecting keeps its code
    assert _pending(pairings, credential="another agent") is None
    clock.now = START + timedelta(minutes=10)
    with pytest.raises(PairingRefused, match="expired"):
        pairings.claim("c", account_id="acc", company_id="co", user_id="u")
    assert _pending(pairings) is None


def test_a_late_disconnect_never_deletes_the_next_connection(tables: Any) -> None:
    connections = ConnectionRepository(Clock())
    connections.put("acc", "agt_1", "old", ["co"])
    connections.put("acc", "agt_1", "new", ["co"])
    assert connections.delete("acc", "agt_1", "old") is False
    current = connections.for_agent("acc", "agt_1")
    assert current is not None and current.connection_id == "new"
    assert connections.by_connection_id("old") is None
    assert connections.heartbeat(current) is True
    assert connections.delete("acc", "agt_1", "new") is True


def test_a_request_is_answered_once_by_the_agent_it_was_sent_to(tables: Any) -> None:
    requests = AgentRequestRepository(Clock())
    created = requests.create("acc", "r1", "co", "cert", "sefaz_request", fingerprint="ab")
    assert created.status == RequestStatus.PENDING
    assert requests.create("acc", "r1", "co", "cert", "sefaz_request") == created  # idempotent
    assert requests.mark_waiting("acc", "r1", "co", "token-1")
    assert [r.request_id for r in requests.waiting_for_company("acc", "co")] == ["r1"]
    assert requests.mark_sent("acc", "r1", agent_id="agt_1", connection_id="c1", only_if_waiting=True)
    assert requests.waiting_for_company("acc", "co") == []
    assert not requests.finish("acc", "r1", agent_id="agt_2", ok=True)
    assert requests.finish("acc", "r1", agent_id="agt_1", ok=True)
    assert not requests.finish("acc", "r1", agent_id="agt_1", ok=True)
    assert not requests.mark_sent("acc", "r1", agent_id="agt_1", connection_id="c1")
    assert requests.get("acc", "r1").status == RequestStatus.SUCCEEDED


def test_agents_are_found_by_credential_and_revoked_once(tables: Any) -> None:
    agents = AgentRepository(Clock())
    agent = AgentRecord(
        account_id="acc", agent_id="agt_1", credential_hash="h" * 64, status="ACTIVE", paired_by="u",
        paired_at=START, company_ids=["co"],
    )  # fmt: skip
    agents.create(agent)
    found = agents.by_credential("h" * 64)
    assert found is not None and found.agent_id == "agt_1"
    assert agents.by_credential("x" * 64) is None
    assert agents.revoke("acc", "agt_1") is True
    assert agents.revoke("acc", "agt_1") is False
    assert agents.get("acc", "agt_1").status == "REVOKED"
