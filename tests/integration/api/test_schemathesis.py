"""schemathesis against the whole generated OpenAPI document, through the gateway with a real token.

No input makes any route answer 5xx, and every answer has a status, content type and body its
schema declares. The fuzzing account is a synced company (flow 3.2: an A1 certificate, documents
the sync fetched from the SEFAZ simulator, its runs) plus an imported NF-e of its own and an
export, so besides the random ids schemathesis makes up (404s), about half of the generated
requests name resources that exist: every route is exercised past its lookup, down to SEFAZ
(manifestação), Step Functions (sync) and the PDF renderer.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from local.fixtures.documents import Company, proc_nfe
from local.system import LocalSystem
from tests.integration.api.client import Api, Users
from tests.integration.api.syncing import settle, synced_company
from tests.integration.api.test_documents_gateway import fresh_document_services

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]
__all__ = ["fresh_document_services"]  # the module fixture that points the services at this stage

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# Examples per operation; the documents routes parse the most input (filters, ids, uploads).
EXAMPLES = 8
DOCUMENT_EXAMPLES = 25
QUIET = list(HealthCheck)
# Query parameters that name a resource, by the path parameter whose ids they take.
QUERY_IDS = {"company_id": "company_id", "user_id": "user_id"}


@pytest.fixture(scope="module")
def real_ids(api: Api, users: Users, system: LocalSystem) -> tuple[str, dict[str, Sequence[str]]]:
    """The fuzzing account's token and the ids of what it holds, by parameter name."""
    synced = synced_company(api, users, system, "fuzz-contract", documents=12, seed=5)
    token, company_id = synced.token, synced.company_id
    received = api.call("GET", "/documents", token, query={"company_id": company_id}).body["items"]
    assert received, "the sync stored documents"
    own = proc_nfe(Company(synced.cnpj, name="FUZZ-CONTRACT LTDA"), number=4242)
    assert _post_xml(api, token, company_id, own.xml) == 200
    export = api.call("POST", "/exports", token, body={"filters": {"company_id": company_id}})
    assert export.status == 202, export.body
    invited = api.call("POST", "/account/users", token, body={"email": "fuzz-invited@example.com"})
    assert invited.status == 201, invited.body
    me = api.call("GET", "/me", token).body["user"]["user_id"]
    return token, {
        "company_id": [company_id],
        "certificate_id": [synced.certificate_id],
        "user_id": [invited.body["user_id"], me],
        "document_id": [received[0]["id"], f"{company_id}.{own.key}"],
        "export_id": [export.body["id"]],
    }


def _post_xml(api: Api, token: str, company_id: str, xml: bytes) -> int:
    request = urllib.request.Request(
        f"{api.url}/documents/import?company_id={company_id}",
        data=xml,
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "application/xml"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        status: int = response.status
        return status


def _use_real_ids(case: Any, ids: Mapping[str, Sequence[str]], pick: int) -> None:
    """Name existing resources in ``case``'s path (and id-bearing query) parameters."""
    if case.path_parameters:
        case.path_parameters = {
            name: ids[name][pick % len(ids[name])] if ids.get(name) else value
            for name, value in case.path_parameters.items()
        }
    if case.query:
        case.query = {
            name: ids[QUERY_IDS[name]][0] if name in QUERY_IDS and ids.get(QUERY_IDS[name]) else value
            for name, value in case.query.items()
        }


def _describe(exc: BaseException) -> str:
    parts = [str(exc), *(str(e) for e in getattr(exc, "exceptions", ()))]
    return "\n".join(parts)[:3000]


def test_no_route_answers_5xx_or_breaks_its_schema(
    api: Api, system: LocalSystem, real_ids: tuple[str, dict[str, Sequence[str]]]
) -> None:
    token, ids = real_ids
    document = api.call("GET", "/openapi.json").body
    contract = schemathesis.openapi.from_dict(document)
    headers = {"authorization": f"Bearer {token}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in contract.get_all_operations()]  # type: ignore[union-attr]
    declared = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert {(op.method.upper(), op.path) for op in operations} == declared, "every route is fuzzed"
    assert {("POST", "/companies/{company_id}/sync"), ("POST", "/documents/{document_id}/manifestacao"),
            ("POST", "/exports"), ("POST", "/documents/import")} <= declared  # fmt: skip
    for operation in operations:
        examples = DOCUMENT_EXAMPLES if operation.path.startswith("/documents") else EXAMPLES

        @given(case=operation.as_strategy(), real=st.booleans(), pick=st.integers(0, 1))
        @settings(max_examples=examples, deadline=None, suppress_health_check=QUIET, database=None)
        def run(case: Any, real: bool, pick: int) -> None:
            if real:
                _use_real_ids(case, ids, pick)
            case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

        try:
            run()
        # Every operation runs and all failures are reported together. schemathesis raises a
        # BaseExceptionGroup when one case breaks several checks, hence not just Exception.
        except (Exception, BaseExceptionGroup) as exc:
            failures[operation.label] = _describe(exc)
    settle(system)  # the syncs the fuzzing started end before the next module's tests
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
