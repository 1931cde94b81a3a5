"""schemathesis against the documents routes of the generated OpenAPI, through the gateway.

No generated input makes a documents route answer 5xx, and every answer has a status, content
type and body the document declares. The fuzzing account owns a company with a document, so
list requests reach the indexes and not only the 404 of an unknown company.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from local.fixtures.documents import Company, proc_nfe
from local.fixtures.identities import cnpj_for
from tests.integration.api.client import Api, Users
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


@pytest.fixture(scope="module")
def fuzz_token(api: Api, users: Users) -> str:
    """An account of its own with one company and one imported NF-e."""
    token = users.sign_up("fuzz-documents@example.com").access_token
    acme = Company(cnpj_for("fuzz-documents"))
    body = {"cnpj": acme.cnpj, "legal_name": "FUZZ LTDA", "uf": "SP"}
    company_id = api.call("POST", "/companies", token, body=body).body["company_id"]
    imported = _post_xml(api, token, company_id, proc_nfe(acme).xml)
    assert imported == 200
    return token


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


def test_no_server_error_and_every_response_matches_the_document(api: Api, fuzz_token: str) -> None:
    document = api.call("GET", "/openapi.json").body
    # The list, a document, its XML and PDF links, the import (manifestação has a test of its own).
    mine = r"^/documents(/import|/\{document_id\}(/xml|/pdf)?)?$"
    contract = schemathesis.openapi.from_dict(document).include(path_regex=mine)
    headers = {"authorization": f"Bearer {fuzz_token}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in contract.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every operation runs; all failures are reported together
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
