"""A company synced through the API: what flow 3.2 and the contract fuzzing both start from.

``synced_company`` does what a user does (sign-up, company, A1 upload, ``POST .../sync``) with real
access tokens, after seeding the SEFAZ simulator with the company's documents, and waits for the
Step Functions executions moto runs. ``distributed`` reads what the simulator handed out from its
own logs: the truth the stored documents are checked against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from local.fixtures.identities import cnpj_for
from local.sefaz import SefazSimulator
from local.sefaz.service import Service
from local.system import LocalSystem
from tests.integration.api.client import Api, Reply, Users
from tests.integration.api.world import a1_upload

SERVICES = {"NFE": Service.NFE_DIST, "CTE": Service.CTE_DIST}
# The docZips that are documents (the others are events), and where each keeps its access key.
DOCUMENT_KEYS = {"resNFe": "chNFe", "nfeProc": "chNFe", "cteProc": "chCTe"}


@dataclass(frozen=True)
class SyncedCompany:
    """A signed-up owner's company, its certificate, and the answer to its first sync request."""

    token: str
    company_id: str
    cnpj: str
    certificate_id: str
    started: Reply
    executions: dict[str, str]  # name -> final status


def simulator(system: LocalSystem) -> SefazSimulator:
    """The SEFAZ simulator the local system runs."""
    assert system.sefaz is not None, "the API's local system runs the SEFAZ simulator"
    return system.sefaz


def synced_company(
    api: Api, users: Users, system: LocalSystem, name: str, *, documents: int, seed: int
) -> SyncedCompany:
    """Sign up ``<name>@...``, register a company with its A1, seed its documents and sync it."""
    token = users.sign_up(f"{name}@contabil.example", name.title()).access_token
    cnpj = cnpj_for(name)
    body = {"cnpj": cnpj, "legal_name": f"{name.upper()} LTDA", "uf": "SP"}
    created = api.call("POST", "/companies", token, body=body)
    assert created.status == 201, created.body
    company_id: str = created.body["company_id"]
    uploaded = api.call("POST", f"/companies/{company_id}/certificates/a1", token, body=a1_upload(cnpj))
    assert uploaded.status == 201, uploaded.body
    simulator(system).seed(cnpj, documents=documents, name=body["legal_name"], seed=seed)
    started = api.call("POST", f"/companies/{company_id}/sync", token)
    assert started.status == 202, started.body
    executions = settle(system, {e["name"] for e in started.body["executions"]})
    return SyncedCompany(token, company_id, cnpj, uploaded.body["certificate_id"], started, executions)


def distributed(system: LocalSystem, cnpj: str) -> tuple[dict[str, int], set[str]]:
    """Per family, how many docZips the simulator holds for ``cnpj``; and its documents' keys."""
    items, keys = {}, set()
    for family, service in SERVICES.items():
        log = simulator(system).engine.log(service, cnpj)
        handed = log.after(0, not_before=datetime.min.replace(tzinfo=UTC), limit=10**6)
        items[family] = len(handed)
        for item in handed:
            root = etree.fromstring(item.xml)
            name = DOCUMENT_KEYS.get(etree.QName(root).localname)
            if name is not None:
                keys.add(str(root.xpath(f"string(.//*[local-name()='{name}'][1])")))
    return items, keys


def settle(system: LocalSystem, names: set[str] | None = None, timeout: float = 120.0) -> dict[str, str]:
    """Wait for the sync executions named ``names`` (every one when None) to end; statuses by name."""
    sfn, arn = system.aws.client("stepfunctions"), system.stack.outputs["SyncStateMachineArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        executions: list[dict[str, Any]] = [e for page in pages for e in page["executions"]]
        statuses = {e["name"]: e["status"] for e in executions if names is None or e["name"] in names}
        if (names is None or set(statuses) == names) and "RUNNING" not in statuses.values():
            return statuses
        time.sleep(0.2)
    raise AssertionError(f"the sync executions {sorted(names or ())} did not end in {timeout} s")
