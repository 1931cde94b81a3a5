"""The local AWS plane: loopback only, the same resources as CDK, and real SDK round trips."""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fiscal_core.settings import Settings, get_settings
from fiscal_core.storage.models import Account
from fiscal_core.storage.tables import TABLE_MODELS, bind_tables, physical_table_name, table_specs
from local.aws import LocalAws
from local.resources import create_table_request

pytestmark = pytest.mark.slow


def _non_loopback_address() -> str | None:
    # Connecting a UDP socket sends nothing; it only asks the kernel which source address it
    # would use for that destination, i.e. this machine's address on its default route.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_server_listens_on_loopback_only(local_aws: LocalAws) -> None:
    host, port = local_aws.address
    assert host == "127.0.0.1"
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    other = _non_loopback_address()
    if other is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    with pytest.raises(OSError):
        socket.create_connection((other, port), timeout=2).close()


def test_moto_runs_lambda_without_docker(local_aws: LocalAws) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_aws.address[1], timeout=5)
    connection.request("GET", "/moto-api/config")
    config = json.loads(connection.getresponse().read())
    connection.close()
    assert config["lambda"]["use_docker"] is False


def test_environment_feeds_the_settings(local_aws_env: LocalAws) -> None:
    settings = get_settings()

    assert settings == Settings(
        stage="local",
        table_prefix="fiscalmix-local",
        documents_bucket=f"fiscalmix-local-documents-123456789012-{local_aws_env.names.region}",
        exports_bucket=f"fiscalmix-local-exports-123456789012-{local_aws_env.names.region}",
        kms_key_id="alias/fiscalmix-local",
        region=local_aws_env.names.region,
        aws_endpoint_url=local_aws_env.endpoint_url,
    )
    assert os.environ["MOTO_PORT"] == str(local_aws_env.address[1])


def test_tables_are_created_from_the_specs(local_aws_env: LocalAws) -> None:
    dynamodb = local_aws_env.client("dynamodb")
    for spec in table_specs():
        name = physical_table_name(get_settings().table_prefix, spec.logical_name)
        table = dynamodb.describe_table(TableName=name)["Table"]
        expected = create_table_request(spec, name)
        assert table["KeySchema"] == expected["KeySchema"]
        assert {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"]: i["KeySchema"] for i in expected.get("GlobalSecondaryIndexes", [])
        }
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl.get("AttributeName") == spec.ttl_attribute


@pytest.fixture
def bound_models(local_aws_env: LocalAws) -> Iterator[None]:
    """Models bound as a handler binds them at cold start; their previous binding restored after."""
    saved = {
        m: (m.Meta.table_name, getattr(m.Meta, "host", None), m.Meta.region) for m in TABLE_MODELS.values()
    }
    settings = get_settings()
    bind_tables(settings.table_prefix, region=settings.region, host=settings.aws_endpoint_url)
    yield
    for model, (table_name, host, region) in saved.items():
        model.Meta.table_name = table_name
        model.Meta.host = host
        model.Meta.region = region
        model._connection = None


@pytest.mark.usefixtures("bound_models")
def test_models_write_and_read_through_pynamodb() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    Account(
        account_id="acc-local-1",
        name="Contabilidade Exemplo",
        kind="ACCOUNTING_FIRM",
        status="ACTIVE",
        created_at=now,
        updated_at=now,
    ).save()

    account = Account.get("acc-local-1")

    assert (account.name, account.created_at) == ("Contabilidade Exemplo", now)


def test_documents_bucket_round_trips_and_versions(local_aws_env: LocalAws) -> None:
    s3 = local_aws_env.client("s3")
    bucket = get_settings().documents_bucket
    key = "acc/comp/nfe/2026/01/35260100000000000000550010000000011000000010.xml"

    first = s3.put_object(Bucket=bucket, Key=key, Body=b"<resNFe/>")
    s3.put_object(Bucket=bucket, Key=key, Body=b"<nfeProc/>")

    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"<nfeProc/>"
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=first["VersionId"])["Body"].read() == b"<resNFe/>"
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]


def test_kms_data_key_is_bound_to_its_context(local_aws_env: LocalAws) -> None:
    kms = local_aws_env.client("kms")
    context = {"account_id": "acc-1", "company_id": "comp-1", "certificate_id": "cert-1"}

    data_key = kms.generate_data_key(
        KeyId=get_settings().kms_key_id, KeySpec="AES_256", EncryptionContext=context
    )

    assert len(data_key["Plaintext"]) == 32
    plaintext = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)["Plaintext"]
    assert plaintext == data_key["Plaintext"]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(
            CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext={**context, "account_id": "acc-2"}
        )
    assert kms.get_key_rotation_status(KeyId=data_key["KeyId"])["KeyRotationEnabled"] is True


def test_stop_closes_the_socket_and_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    with LocalAws(stage="stoptest") as plane:
        port = plane.address[1]
        assert os.environ["AWS_ENDPOINT_URL"] == f"http://localhost:{port}"
        assert "AWS_PROFILE" not in os.environ
        assert get_settings().stage == "stoptest"

    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert "AWS_ENDPOINT_URL" not in os.environ
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
