"""The /exports routes through the API's resolver, over moto: idempotency, visibility, links."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from aws_lambda_powertools.utilities.typing import LambdaContext

from fiscal_core.api.documents_services import s3_client
from fiscal_core.api.services import Services, get_services
from fiscal_core.exports.api_services import ExportServices, get_export_services
from fiscal_core.storage.accounts import UserRecord
from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.companies import CompanyRole, Permission
from fiscal_core.storage.tables import bind_tables
from functions.api.handler import app
from tests.unit.api.fakes import FakeDirectory, http_event
from tests.unit.exports.harness import Harness, RecordingQueue
from tests.unit.exports.seed import EXPORTS_BUCKET, PREFIX, REGION, Seeder, open_zip, xml_entries

Call = Callable[..., tuple[int, Any]]


@pytest.fixture
def api(aws: dict[str, Any]) -> Iterator[tuple[Call, RecordingQueue, Services]]:
    """The resolver with fake users and the export services on moto; ``call(method, path, sub=...)``."""
    bind_tables(PREFIX, region=REGION)
    directory = FakeDirectory()
    services = Services(directory=lambda: directory, cipher=lambda: None)  # type: ignore[arg-type,return-value]
    queue = RecordingQueue()
    exports = ExportServices(queue=lambda: queue, s3=lambda: s3_client(REGION), bucket=EXPORTS_BUCKET)
    app.dependency_overrides[get_services] = lambda: services
    app.dependency_overrides[get_export_services] = lambda: exports

    def call(
        method: str, path: str, *, sub: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any]:
        if sub not in directory.users:
            directory.add(sub, f"{sub}@example.com")
        event = http_event(method, path, sub=sub, **kw)
        event["headers"].update(headers or {})
        response = app.resolve(event, cast(LambdaContext, None))
        return response["statusCode"], json.loads(response["body"])

    yield call, queue, services
    app.dependency_overrides.clear()


def account_of(services: Services, sub: str) -> str:
    return services.accounts.users_by_cognito_sub(sub)[0].account_id


def test_an_export_is_requested_followed_and_downloaded(api: Any, aws: dict[str, Any]) -> None:
    call, queue, services = api
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    assert call("GET", "/me", sub=owner)[0] == 200  # the first request opens the owner's account
    seeder = Seeder(aws["s3"], account_of(services, owner))
    company = seeder.company()
    docs = [seeder.document(company, n) for n in (1, 2, 3)]
    body = {"filters": {"company_id": company, "type": "NFE"}, "options": {"layout": "flat"}}
    # Requested with an Idempotency-Key: queued once
    status, created = call("POST", "/exports", sub=owner, body=body, headers={"idempotency-key": "k-1"})
    assert status == 202 and created["status"] == "QUEUED" and created["filters"] == body["filters"]
    assert [t.export_id for t in queue.sent] == [created["id"]]
    # The same request again: the same export; another request under the same key: refused
    assert (
        call("POST", "/exports", sub=owner, body={**body, "idempotency_key": "k-1"})[1]["id"] == created["id"]
    )
    status, problem = call(
        "POST",
        "/exports",
        sub=owner,
        body={"filters": {"company_id": company}},
        headers={"idempotency-key": "k-1"},
    )
    assert (status, problem["type"]) == (422, "/problems/idempotency-key-reused")
    # Not ready yet
    status, problem = call("GET", f"/exports/{created['id']}/download", sub=owner)
    assert (status, problem["type"]) == (409, "/problems/export-not-ready")
    # The worker runs it
    harness = Harness(aws["s3"], seeder.account_id)
    harness.run_to_end(queue.sent[0])
    status, done = call("GET", f"/exports/{created['id']}", sub=owner)
    assert (status, done["status"], done["progress"], done["processed_docs"]) == (200, "SUCCEEDED", 100, 3)
    listed = call("GET", "/exports", sub=owner)[1]
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    # The link: one hour, a ZIP named after the export, and an audit entry
    status, link = call("GET", f"/exports/{created['id']}/download", sub=owner)
    assert status == 200 and link["filename"] == f"fiscalmix-export-{created['id']}.zip"
    query = parse_qs(urlparse(link["url"]).query)
    assert query["X-Amz-Expires"] == ["3600"] and "attachment" in query["response-content-disposition"][0]
    assert datetime.fromisoformat(link["expires_at"]) > datetime.now(UTC)
    archive = open_zip(requests.get(link["url"], timeout=10).content)
    assert set(xml_entries(archive)) == {d.access_key for d in docs}
    audit = AuditRepository().for_entity(seeder.account_id, "export", created["id"]).items
    assert {e.action for e in audit} == {"export.create", "export.download"}


def test_another_account_cannot_see_poll_or_download(api: Any, aws: dict[str, Any]) -> None:
    call, queue, services = api
    owner, stranger = f"owner-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    call("GET", "/me", sub=owner)
    seeder = Seeder(aws["s3"], account_of(services, owner))
    company = seeder.company()
    seeder.document(company, 1)
    export_id = call("POST", "/exports", sub=owner, body={"filters": {"company_id": company}})[1]["id"]
    Harness(aws["s3"], seeder.account_id).run_to_end(queue.sent[-1])
    missing = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    for suffix in ("", "/download"):
        theirs = call("GET", f"/exports/{export_id}{suffix}", sub=stranger)
        nothing = call("GET", f"/exports/{missing}{suffix}", sub=stranger)
        assert theirs[0] == nothing[0] == 404
        assert {k: v for k, v in theirs[1].items() if k != "instance"} == {
            k: v for k, v in nothing[1].items() if k != "instance"
        }
    assert call("GET", "/exports", sub=stranger)[1]["items"] == []
    # Their company id names nothing in the stranger's account either
    assert call("POST", "/exports", sub=stranger, body={"filters": {"company_id": company}})[0] == 404


def test_members_see_their_own_exports_of_their_companies(api: Any, aws: dict[str, Any]) -> None:
    call, _, services = api
    owner, member = f"owner-{uuid.uuid4().hex[:8]}", f"member-{uuid.uuid4().hex[:8]}"
    call("GET", "/me", sub=owner)
    account_id = account_of(services, owner)
    seeder = Seeder(aws["s3"], account_id)
    company = seeder.company()
    now = datetime.now(UTC)
    services.accounts.create_user(
        UserRecord(
            account_id, "m1", f"{member}@example.com", "M", "MEMBER", "ACTIVE", now, cognito_sub=member
        )
    )
    services.companies.grant(Permission(account_id, company, "m1", CompanyRole.VIEWER, "owner", now))
    owners = call("POST", "/exports", sub=owner, body={})[1]["id"]
    status, mine = call("POST", "/exports", sub=member, body={"filters": {"company_id": company}})
    assert status == 202
    assert [e["id"] for e in call("GET", "/exports", sub=member)[1]["items"]] == [mine["id"]]
    assert call("GET", f"/exports/{owners}", sub=member)[0] == 404
    # Across companies: owners and admins only; and it always needs the company folder
    assert call("POST", "/exports", sub=member, body={})[0] == 422
    status, problem = call("POST", "/exports", sub=owner, body={"options": {"layout": "flat"}})
    assert status == 422 and problem["errors"][0]["field"] == "options.layout"


def test_filters_the_documents_list_refuses_are_refused(api: Any, aws: dict[str, Any]) -> None:
    call, _, services = api
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    call("GET", "/me", sub=owner)
    company = Seeder(aws["s3"], account_of(services, owner)).company()
    filters = {"company_id": company, "type": "NFE", "issuer": "12345678000195"}
    status, problem = call("POST", "/exports", sub=owner, body={"filters": filters})
    assert (status, problem["type"]) == (422, "/problems/unsupported-filter")
    assert call("POST", "/exports", sub=owner, body={"filters": {"min_value": 10}})[0] == 422
    status, problem = call(
        "POST", "/exports", sub=owner, body={"idempotency_key": "a"}, headers={"idempotency-key": "b"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "idempotency_key"
