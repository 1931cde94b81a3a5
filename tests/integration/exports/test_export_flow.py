"""The seed's flow 3.3, "Exportação ZIP em lote", end to end on the local system.

A signed-in user asks the HTTP gateway for an export; the SQS poller hands the message to the
export worker, in-process, as Lambda's event source mapping would; the user polls the export
until it is done and downloads the ZIP through its presigned link. Everything between the user
and moto is the product's own code, deployed from the synthesized template.
"""

from __future__ import annotations

import hashlib
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fiscal_core.exports.api_services import get_export_services
from fiscal_core.exports.runtime import get_runtime
from fiscal_core.settings import get_settings
from fiscal_core.storage.tables import bind_tables
from local.cli import create_demo_login
from local.fixtures.documents import Company, proc_nfe
from local.synth import synthesize_template
from local.system import LocalOptions, LocalSystem
from tests.integration.api.client import Api, Users
from tests.unit.exports.seed import Seeder, csv_rows, open_zip, xml_entries

pytestmark = pytest.mark.slow

STAGE = "exports"
ACME = Company("04252011000110", "ACME COMERCIO LTDA")
ISSUED = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def system() -> Iterator[LocalSystem]:
    # The functions build their services once per process; a stage of its own needs fresh ones.
    for cached in (get_runtime, get_export_services, get_settings):
        cached.cache_clear()
    running = LocalSystem(
        LocalOptions(stage=STAGE, template=synthesize_template(STAGE), start_schedules=False)
    )
    running.start()
    # moto evaluates bucket policies without their conditions: the buckets' TLS-only Deny
    # (aws:SecureTransport false) would refuse every call on the plain-HTTP local plane.
    s3, settings = running.aws.client("s3"), get_settings()
    for bucket in (settings.documents_bucket, settings.exports_bucket):
        s3.delete_bucket_policy(Bucket=bucket)
    yield running
    running.stop()
    for cached in (get_runtime, get_export_services, get_settings):
        cached.cache_clear()


def poll(api: Api, path: str, token: str, seconds: float = 60) -> list[dict[str, object]]:
    """GET ``path`` until the export ends; every answer seen, in order."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = api.call("GET", path, token)
        assert reply.status == 200, reply
        seen.append(reply.body)
        if reply.body["status"] in ("SUCCEEDED", "FAILED"):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"the export did not finish: {seen[-1]}")


def test_flow_3_3_export_poll_download(system: LocalSystem) -> None:
    api = Api(next(iter(system.http_gateways.values())).url)
    # A user with a company, and the company's documents as the sync stores them
    owner = create_demo_login(system).access_token
    account_id = api.call("GET", "/me", owner).body["account"]["account_id"]
    company = api.call(
        "POST", "/companies", owner, body={"cnpj": ACME.cnpj, "legal_name": ACME.name, "uf": "SP"}
    )
    assert company.status == 201, company
    company_id = company.body["company_id"]
    bind_tables(get_settings().table_prefix)
    seeder = Seeder(system.aws.client("s3"), account_id, bucket=get_settings().documents_bucket)
    for n in range(1, 13):
        generated = proc_nfe(ACME, number=n, issued_at=ISSUED + timedelta(hours=n))
        seeder.document(
            company_id, n, body=generated.xml, access_key=generated.key, issued_at=ISSUED + timedelta(hours=n)
        )
    # The export is asked for (twice, as a client retrying would: one export)
    request = {"filters": {"company_id": company_id, "issued_from": "2025-03-01", "issued_to": "2025-03-31"}}
    created = api.call("POST", "/exports", owner, body={**request, "idempotency_key": "flow-3.3"})
    again = api.call("POST", "/exports", owner, body={**request, "idempotency_key": "flow-3.3"})
    assert created.status == again.status == 202 and created.body["id"] == again.body["id"]
    export_id = created.body["id"]
    # The worker runs off the queue; the user polls until it is done
    seen = poll(api, f"/exports/{export_id}", owner)
    progress = [int(str(s["progress"])) for s in seen]
    assert progress == sorted(progress) and seen[-1]["status"] == "SUCCEEDED" and progress[-1] == 100
    assert (seen[-1]["total_docs"], seen[-1]["processed_docs"], seen[-1]["failed_docs"]) == (12, 12, 0)
    # And downloads the ZIP through the one-hour link
    link = api.call("GET", f"/exports/{export_id}/download", owner)
    assert link.status == 200, link
    with urllib.request.urlopen(link.body["url"], timeout=30) as response:
        archive = open_zip(response.read())
    assert xml_entries(archive) == {k: hashlib.sha256(v).hexdigest() for k, v in seeder.bodies.items()}
    assert [row["number"] for row in csv_rows(archive)] == [str(n) for n in range(1, 13)]
    assert all(
        name.startswith(f"{ACME.cnpj}/NFE/2025-03/") for name in archive.namelist() if name.endswith(".xml")
    )
    # Someone of another account learns nothing about it
    stranger = Users(system).sign_up("stranger@exports.example").access_token
    for path in (f"/exports/{export_id}", f"/exports/{export_id}/download"):
        assert api.call("GET", path, stranger).status == 404
    assert api.call("GET", "/exports", stranger).body["items"] == []
