"""The seed's flow 3.2 started from the API: a company's first sync, end to end, through the gateway.

A user signs up, registers a company and uploads its A1 with real access tokens; ``POST
/companies/{id}/sync`` starts the synthesized Step Functions workflow (executed by moto), whose
worker fetches the company's documents from the SEFAZ simulator over mutual TLS. The test's truth
is what the simulator handed out, read from its own logs: ``GET /documents`` must list each of
those documents once, and ``sync-runs`` and ``sync-status`` must report the runs that fetched them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from local.system import LocalSystem
from tests.integration.api.client import Api, Users
from tests.integration.api.syncing import distributed, synced_company

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def every_page(api: Api, path: str, token: str, **query: str) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        reply = api.call(
            "GET", path, token, query={**query, "limit": "100", **({"cursor": cursor} if cursor else {})}
        )
        assert reply.status == 200, reply.body
        yield from reply.body["items"]
        if (cursor := reply.body["next_cursor"]) is None:
            return


def test_flow_3_2_a_sync_started_from_the_api_lists_every_document_sefaz_handed_out(
    api: Api, users: Users, system: LocalSystem
) -> None:
    synced = synced_company(api, users, system, "flow-3.2", documents=40, seed=32)

    token, company_id = synced.token, synced.company_id
    assert set(synced.started.body["families"]) == {"NFE", "CTE", "NFSE"}
    assert synced.executions == dict.fromkeys(synced.executions, "SUCCEEDED")
    assert len(synced.executions) == 3
    items, keys = distributed(system, synced.cnpj)
    assert items["NFE"] > 0 and items["CTE"] > 0 and keys
    listed = list(every_page(api, "/documents", token, company_id=company_id))
    assert sorted(d["access_key"] for d in listed) == sorted(keys), "each distributed document, once"
    assert {d["id"] for d in listed} == {f"{company_id}.{key}" for key in keys}
    runs = list(every_page(api, f"/companies/{company_id}/sync-runs", token))
    assert sorted(r["family"] for r in runs) == ["CTE", "NFE", "NFSE"]
    user_id = api.call("GET", "/me", token).body["user"]["user_id"]
    for run in runs:
        assert (run["status"], run["trigger"], run["requested_by"]) == ("SUCCEEDED", "USER", user_id), run
        assert run["error_code"] is None and run["finished_at"] is not None
    found = {r["family"]: r["counters"]["docs_found"] for r in runs}
    assert found == {"NFE": items["NFE"], "CTE": items["CTE"], "NFSE": 0}
    status = api.call("GET", f"/companies/{company_id}/sync-status", token)
    assert status.status == 200, status.body
    families = {f["family"]: f for f in status.body["families"]}
    for family, count in items.items():
        state = families[family]
        assert (int(state["last_nsu"]), int(state["max_nsu"])) == (count, count), state
        assert (state["running"], state["last_error"]) == (False, None), state
        # Caught up: SEFAZ may be asked again only an hour later, and the status says why.
        waits = _at(state["next_allowed_at"]) - _at(state["last_success_at"])
        assert waits >= timedelta(hours=1) and state["block_reason"], state
    again = api.call("POST", f"/companies/{company_id}/sync", token, body={"families": ["NFE", "CTE"]})
    assert (again.status, again.content_type) == (409, "application/problem+json")
    assert _at(again.body["retry_at"]) == min(_at(families[f]["next_allowed_at"]) for f in ("NFE", "CTE"))
    actions = [e["action"] for e in api.call("GET", "/audit-logs", token).body["items"]]
    assert "company.sync" in actions
