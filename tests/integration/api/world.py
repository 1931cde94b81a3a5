"""Two accounts with something of everything, for the isolation and role tests.

Account A: its owner and one company. Account B: its owner, a company with an A1 certificate,
three invited users (a VIEWER and an OPERATOR of that company, and a member with no role), an
NF-e of its own imported through the API, an export of that company run to its end by the
export worker, and a paired A3 agent (written to its table as pairing would: pairing itself
needs a live agent on the bridge).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from fiscal_core.bridge.secrets import new_agent_id
from fiscal_core.settings import get_settings
from fiscal_core.storage.agents import AgentRecord, AgentRepository, AgentStatusValue
from fiscal_core.storage.tables import bind_tables
from local.fixtures.certificates import default_ca
from local.fixtures.documents import Company, proc_nfe
from local.fixtures.identities import cnpj_for
from tests.integration.api.client import Api, Reply, Users

PFX_PASSWORD = "senha-do-a1-b"
SUPPLIER_B = Company(cnpj_for("company-b-customer"), name="CLIENTE DA B LTDA", uf="PR")
ISSUED_B = datetime(2026, 9, 14, 13, tzinfo=UTC)
EXPORT_KEY_B = "world-b-export-1"


def a1_upload(cnpj: str) -> dict[str, str]:
    """The upload body of a new valid test-CA certificate for ``cnpj``."""
    pfx = default_ca().issue_ecnpj(cnpj, "EMPRESA B LTDA").to_pfx(PFX_PASSWORD)
    return {"pfx": base64.b64encode(pfx).decode(), "password": PFX_PASSWORD}


def nfe_of_b(cnpj_b: str, number: int) -> bytes:
    """An authorized NF-e issued by B's company: what B's users import."""
    issuer = Company(cnpj_b, name="EMPRESA B LTDA")
    return proc_nfe(issuer, SUPPLIER_B, number=number, issued_at=ISSUED_B).xml


def upload(
    api: Api, token: str, company_id: str, body: bytes, content_type: str = "application/xml"
) -> Reply:
    """``POST /documents/import?company_id=``: the file itself is the body."""
    query = urllib.parse.urlencode({"company_id": company_id})
    request = urllib.request.Request(
        f"{api.url}/documents/import?{query}",
        data=body,
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, kind, raw = response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        status, kind, raw = error.code, error.headers.get("content-type", ""), error.read()
    return Reply(status, kind, json.loads(raw) if raw and "json" in kind else raw.decode("utf-8", "replace"))


@dataclass(frozen=True)
class World:
    """Tokens and ids of both accounts."""

    owner_a: str
    company_a: str
    owner_b: str
    company_b: str
    cnpj_b: str
    certificate_b: str
    viewer_b: str
    operator_b: str
    outsider_b: str  # a member of B with no role on company_b
    viewer_b_id: str
    operator_b_id: str
    account_b: str
    owner_b_id: str
    document_b: str  # "<company_b>.<access key>", as the documents list gives it
    access_key_b: str
    export_b: str  # SUCCEEDED: its ZIP can be downloaded
    agent_b: str  # ACTIVE, paired for company_b


def build_world(api: Api, users: Users) -> World:
    owner_a = users.sign_up("owner@a.example").access_token
    company_a = _company(api, owner_a, cnpj_for("company-a"))
    owner_b = users.sign_up("owner@b.example").access_token
    cnpj_b = cnpj_for("company-b")
    company_b = _company(api, owner_b, cnpj_b)
    certificate = api.call("POST", f"/companies/{company_b}/certificates/a1", owner_b, body=a1_upload(cnpj_b))
    assert certificate.status == 201, certificate.body
    tokens, ids = {}, {}
    for who, role in (("viewer", "VIEWER"), ("operator", "OPERATOR"), ("outsider", None)):
        email = f"{who}@b.example"
        invited = api.call("POST", "/account/users", owner_b, body={"email": email, "name": who})
        assert invited.status == 201, invited.body
        ids[who] = invited.body["user_id"]
        tokens[who] = users.accept_invitation(email).access_token
        if role:
            path = f"/companies/{company_b}/permissions/{ids[who]}"
            assert api.call("PUT", path, owner_b, body={"role": role}).status == 200
    me_b = api.call("GET", "/me", owner_b).body
    account_b, owner_b_id = me_b["account"]["account_id"], me_b["user"]["user_id"]
    document_b, access_key_b = _document(api, owner_b, company_b, cnpj_b)
    return World(
        owner_a=owner_a,
        company_a=company_a,
        owner_b=owner_b,
        company_b=company_b,
        cnpj_b=cnpj_b,
        certificate_b=certificate.body["certificate_id"],
        viewer_b=tokens["viewer"],
        operator_b=tokens["operator"],
        outsider_b=tokens["outsider"],
        viewer_b_id=ids["viewer"],
        operator_b_id=ids["operator"],
        account_b=account_b,
        owner_b_id=owner_b_id,
        document_b=document_b,
        access_key_b=access_key_b,
        export_b=_export(api, owner_b, company_b),
        agent_b=_agent(account_b, company_b, owner_b_id),
    )


def _company(api: Api, token: str, cnpj: str) -> str:
    reply = api.call(
        "POST", "/companies", token, body={"cnpj": cnpj, "legal_name": f"Empresa {cnpj}", "uf": "SP"}
    )
    assert reply.status == 201, reply.body
    company_id: str = reply.body["company_id"]
    return company_id


def _document(api: Api, token: str, company_id: str, cnpj: str) -> tuple[str, str]:
    """B's owner imports one NF-e of B's company; its id and access key."""
    reply = upload(api, token, company_id, nfe_of_b(cnpj, 1))
    assert reply.status == 200, reply.body
    (imported,) = reply.body["files"]
    assert imported["status"] == "imported", imported
    return imported["document_id"], imported["access_key"]


def _export(api: Api, token: str, company_id: str, seconds: float = 90) -> str:
    """B's owner exports B's company; the export worker packs it (its one NF-e) to SUCCEEDED."""
    body = {"filters": {"company_id": company_id}, "idempotency_key": EXPORT_KEY_B}
    reply = api.call("POST", "/exports", token, body=body)
    assert reply.status == 202, reply.body
    export_id: str = reply.body["id"]
    deadline = time.monotonic() + seconds
    while (job := api.call("GET", f"/exports/{export_id}", token).body)["status"] not in (
        "SUCCEEDED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, f"export {export_id} still {job['status']}"
        time.sleep(0.5)
    assert (job["status"], job["total_docs"]) == ("SUCCEEDED", 1), job
    return export_id


def _agent(account_id: str, company_id: str, paired_by: str) -> str:
    """An A3 agent paired for B's company, stored as the bridge's pairing stores one."""
    bind_tables(get_settings().table_prefix)
    now = datetime.now(UTC)
    agent = AgentRecord(
        account_id=account_id,
        agent_id=new_agent_id(now),
        credential_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        status=AgentStatusValue.ACTIVE,
        paired_by=paired_by,
        paired_at=now,
        company_ids=[company_id],
        machine="B-PC (Windows 11)",
        agent_version="1.0.0",
    )
    AgentRepository().create(agent)
    return agent.agent_id
