"""schemathesis against the generated OpenAPI document, through the gateway with a real token.

For the foundation's routes (identity, account, companies, certificates, audit): no input makes
the API answer 5xx, and every answer has a status, content type and body its schema declares.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.integration.api.client import Api, Users

# The handler flushes metrics on every call; locally there are none to publish.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

# The documents routes have a test of their own; these are the foundation's.
FOUNDATION_PATHS = r"^/(me|account|companies|audit-logs|health)"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def contract(api: Api) -> schemathesis.BaseSchema:
    document = api.call("GET", "/openapi.json").body
    return schemathesis.openapi.from_dict(document).include(path_regex=FOUNDATION_PATHS)


@pytest.fixture(scope="module")
def fuzz_token(users: Users) -> str:
    """An account of its own, so what the generated requests change touches no other test."""
    return users.sign_up("fuzz@example.com").access_token


def test_no_server_error_and_every_response_matches_the_document(
    contract: schemathesis.BaseSchema, api: Api, fuzz_token: str
) -> None:
    headers = {"authorization": f"Bearer {fuzz_token}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in contract.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every operation runs; all failures are reported together
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
