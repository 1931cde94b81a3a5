"""The sync routes through the resolver: start a sync, its runs and status, over moto."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest

from fiscal_core.api.sync_services import StepFunctionsStarter, SyncServices, get_sync_services
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunStatus, SyncRunRepository
from fiscal_core.sync.contract import SyncState, Trigger
from functions.api.handler import app
from local.fixtures.identities import cnpj_for
from tests.unit.api.conftest import REGION

CNPJ = cnpj_for("acme")


@dataclass
class FakeStarter:
    """Step Functions in a list."""

    started: list[tuple[str, SyncState]] = field(default_factory=list)

    def start(self, name: str, state: SyncState) -> str:
        self.started.append((name, state))
        return f"arn:aws:states:{REGION}:123456789012:execution:sync:{name}"


@dataclass
class World:
    call: Any
    starter: FakeStarter
    account_a: str = ""
    company_a: str = ""
    company_b: str = ""
    users: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(call, directory, services) -> Any:
    starter = FakeStarter()
    app.dependency_overrides[get_sync_services] = lambda: SyncServices(starter=starter)
    w = World(call, starter)
    for sub in ("owner-a", "owner-b"):
        directory.add(sub, f"{sub}@example.com")
    w.account_a = call("GET", "/me", sub="owner-a").body["account"]["account_id"]
    call("GET", "/me", sub="owner-b")
    new = {"legal_name": "ACME LTDA", "uf": "SP", "cnpj": CNPJ}
    w.company_a = call("POST", "/companies", sub="owner-a", body=new).body["company_id"]
    w.company_b = call("POST", "/companies", sub="owner-b", body=new).body["company_id"]
    for role in ("VIEWER", "OPERATOR"):
        email = f"{role.lower()}@example.com"
        invited = call("POST", "/account/users", sub="owner-a", body={"email": email}).body
        call("PUT", f"/companies/{w.company_a}/permissions/{invited['user_id']}", sub="owner-a",
             body={"role": role})  # fmt: skip
        w.users[role] = next(u.sub for u in directory.users.values() if u.email == email)
    return w


def _held(world: World, family: Family) -> None:
    cursors = SyncCursorRepository()
    cursors.ensure(world.account_a, world.company_a, family, CNPJ)
    cursors.acquire(world.account_a, world.company_a, family, "run-1", timedelta(minutes=10))


def _blocked(world: World, family: Family, hours: int = 1) -> None:
    cursors = SyncCursorRepository()
    cursors.ensure(world.account_a, world.company_a, family, CNPJ)
    lease = cursors.acquire(world.account_a, world.company_a, family, "run-0", timedelta(minutes=10))
    cursors.release(
        lease,
        next_allowed_at=utc_now() + timedelta(hours=hours),
        block_reason="137",
        block_detail="SEFAZ has no new documents; it may be asked again in an hour.",
    )


def test_operator_starts_every_synced_family(world: World) -> None:
    reply = world.call("POST", f"/companies/{world.company_a}/sync", sub=world.users["OPERATOR"])
    assert reply.status == 202, reply.body
    assert reply.body["families"] == ["NFE", "CTE", "NFSE"]
    assert reply.body["skipped"] == []
    names = [e["name"] for e in reply.body["executions"]]
    assert names == [name for name, _ in world.starter.started]
    assert all(n.startswith("user-") and n.endswith(reply.body["execution"]) for n in names)
    _, state = world.starter.started[0]
    assert state.trigger is Trigger.USER and state.family is Family.NFE
    assert (state.account_id, state.company_id, state.lease_owner) == (
        world.account_a,
        world.company_a,
        names[0],
    )
    assert state.user_id is not None
    audit = AuditRepository().for_entity(world.account_a, "company", world.company_a)
    assert any(e.action == "company.sync" for e in audit.items)


def test_body_chooses_families(world: World) -> None:
    reply = world.call(
        "POST", f"/companies/{world.company_a}/sync", sub="owner-a", body={"families": ["CTE"]}
    )
    assert reply.status == 202
    assert [s.family for _, s in world.starter.started] == [Family.CTE]


def test_unknown_family_or_field_is_422(world: World) -> None:
    bodies: list[dict[str, Any]] = [{"families": ["MDFE"]}, {"families": []}, {"family": "NFE"}]
    for body in bodies:
        reply = world.call("POST", f"/companies/{world.company_a}/sync", sub="owner-a", body=body)
        assert reply.status == 422, body
    assert world.starter.started == []


def test_waiting_family_is_409_with_retry_at(world: World) -> None:
    _blocked(world, Family.NFE)
    reply = world.call(
        "POST", f"/companies/{world.company_a}/sync", sub="owner-a", body={"families": ["NFE"]}
    )
    assert reply.status == 409
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.body["type"] == "/problems/conflict"
    assert "SEFAZ has no new documents" in reply.body["detail"]
    assert reply.body["retry_at"] > utc_now().isoformat()
    assert world.starter.started == []


def test_running_family_is_409_already_running(world: World) -> None:
    _held(world, Family.NFE)
    reply = world.call(
        "POST", f"/companies/{world.company_a}/sync", sub="owner-a", body={"families": ["NFE"]}
    )
    assert reply.status == 409
    assert "already running" in reply.body["detail"]
    assert reply.body["retry_at"] is None


def test_other_families_start_when_one_waits(world: World) -> None:
    _blocked(world, Family.NFE)
    reply = world.call("POST", f"/companies/{world.company_a}/sync", sub="owner-a")
    assert reply.status == 202
    assert reply.body["families"] == ["CTE", "NFSE"]
    assert [s["family"] for s in reply.body["skipped"]] == ["NFE"]
    assert reply.body["skipped"][0]["retry_at"] is not None


def test_viewer_cannot_start_and_others_do_not_see(world: World) -> None:
    assert world.call("POST", f"/companies/{world.company_a}/sync", sub=world.users["VIEWER"]).status == 403
    assert world.call("POST", f"/companies/{world.company_b}/sync", sub="owner-a").status == 404
    assert world.call("POST", "/companies/nope/sync", sub="owner-a").status == 404
    assert world.starter.started == []


def test_inactive_company_is_409(world: World) -> None:
    world.call("POST", f"/companies/{world.company_a}/deactivate", sub="owner-a")
    assert world.call("POST", f"/companies/{world.company_a}/sync", sub="owner-a").status == 409


def test_missing_state_machine_is_503(world: World) -> None:
    app.dependency_overrides[get_sync_services] = lambda: SyncServices(
        starter=StepFunctionsStarter(lambda: boto3.client("stepfunctions", region_name=REGION), None)
    )
    assert world.call("POST", f"/companies/{world.company_a}/sync", sub="owner-a").status == 503


def test_step_functions_starter_sends_the_state(aws: str) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name="sync", definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]  # fmt: skip
    state = SyncState(account_id="a1", company_id="c1", family=Family.NFE, trigger=Trigger.USER, user_id="u1")
    execution = StepFunctionsStarter(lambda: sfn, arn).start("user-nfe-x", state)
    sent = json.loads(sfn.describe_execution(executionArn=execution)["input"])
    assert SyncState.model_validate(sent) == state


def test_runs_newest_first_paginated(world: World) -> None:
    runs = SyncRunRepository()
    first = runs.start(world.account_a, world.company_a, Family.NFE, "SCHEDULE")
    runs.record_page(world.account_a, world.company_a, first.run_id, first_nsu="000000000000001",
                     last_nsu="000000000000050", docs_found=50, docs_saved=48, events_saved=2)  # fmt: skip
    runs.finish(world.account_a, world.company_a, first.run_id, RunStatus.FAILED, error_code="CERT",
                error_summary="The A1 certificate expired.")  # fmt: skip
    second = runs.start(world.account_a, world.company_a, Family.CTE, "USER", requested_by="u")
    page = world.call("GET", f"/companies/{world.company_a}/sync-runs", sub=world.users["VIEWER"],
                      query={"limit": "1"})  # fmt: skip
    assert page.status == 200
    assert [r["run_id"] for r in page.body["items"]] == [second.run_id]
    rest = world.call("GET", f"/companies/{world.company_a}/sync-runs", sub=world.users["VIEWER"],
                      query={"limit": "1", "cursor": page.body["next_cursor"]})  # fmt: skip
    (run,) = rest.body["items"]
    assert run["run_id"] == first.run_id and run["status"] == "FAILED"
    assert run["counters"] == {"pages": 1, "docs_found": 50, "docs_saved": 48, "events_saved": 2}
    assert run["error_summary"] == "The A1 certificate expired."
    assert world.call("GET", f"/companies/{world.company_b}/sync-runs", sub="owner-a").status == 404


def test_status_per_family(world: World) -> None:
    _blocked(world, Family.NFE)
    _held(world, Family.CTE)
    reply = world.call("GET", f"/companies/{world.company_a}/sync-status", sub=world.users["VIEWER"])
    assert reply.status == 200
    by_family = {f["family"]: f for f in reply.body["families"]}
    assert list(by_family) == ["NFE", "CTE", "NFSE"]
    nfe, cte, nfse = by_family["NFE"], by_family["CTE"], by_family["NFSE"]
    assert nfe["last_nsu"] == "000000000000000" and nfe["block_code"] == "137"
    assert nfe["block_reason"].startswith("SEFAZ has no new documents") and not nfe["running"]
    assert cte["running"] and cte["block_reason"] is None
    assert nfse["last_nsu"] is None and nfse["next_allowed_at"] is None
    assert world.call("GET", f"/companies/{world.company_b}/sync-status", sub="owner-a").status == 404
