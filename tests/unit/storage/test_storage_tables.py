"""Every table can be created from its spec, and every model round-trips an item through it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fiscal_core.storage.document_keys import index_keys
from fiscal_core.storage.models import (
    Account,
    Agent,
    AgentConnection,
    AgentRequest,
    AuditLog,
    Certificate,
    Company,
    CompanyUserPermission,
    ConnectorConfig,
    Document,
    DocumentEvent,
    EnvelopeMap,
    ExportJob,
    IdempotencyKey,
    PairingCode,
    SyncCursor,
    SyncRun,
    User,
)
from fiscal_core.storage.records import DocKind
from fiscal_core.storage.tables import (
    TABLE_MODELS,
    bind_tables,
    physical_table_name,
    table_specs,
)

PREFIX = "test"  # as bound by the conftest
REGION = "sa-east-1"

NOW = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
ACC = "acc1"
KEY = "35250312345678000195550010000012341000012345"


def _document_index_keys() -> dict[str, Any]:
    values = {"doc_type": "NFE", "direction": "IN", "status": "AUTHORIZED",
              "issuer_doc": "12345678000195", "recipient_doc": "98765432000198"}  # fmt: skip
    return dict(index_keys(ACC, "co1", values, DocKind.SUMMARY))


def _samples() -> dict[str, Any]:
    ck = f"{ACC}#co1"
    return {
        "Accounts": Account(ACC, name="Contábil X", kind="ACCOUNTING_FIRM", status="ACTIVE",
                            created_at=NOW, updated_at=NOW),
        "Users": User(ACC, "u1", cognito_sub="sub-1", email="a@x.br", name="Ana",
                      account_role="OWNER", status="ACTIVE", created_at=NOW),
        "Companies": Company(ACC, "co1", cnpj="12345678000195", legal_name="ACME LTDA", uf="SP",
                             municipio="3550308", tags=["filial", "sp"], created_at=NOW,
                             updated_at=NOW),
        "CompanyUserPermissions": CompanyUserPermission(
            ACC, "co1#u1", user_key=f"{ACC}#u1", company_id="co1", user_id="u1", role="VIEWER",
            granted_by="u0", granted_at=NOW),
        "Certificates": Certificate(
            ACC, "cert1", company_id="co1", company_key=ck, kind="A1", subject="CN=ACME",
            issuer="CN=AC", serial_number="01", cnpj="12345678000195", not_before=NOW,
            not_after=NOW + timedelta(days=365), fingerprint="ab" * 32, status="ACTIVE",
            pfx_envelope=EnvelopeMap(version=1, wrapped_key=b"\x00wk", nonce=b"n" * 12,
                                     ciphertext=b"\xffct"),
            created_by="u1", created_at=NOW),
        "ConnectorConfigs": ConnectorConfig(
            ACC, "co1#SEFAZ_NFE", company_id="co1", connector="SEFAZ_NFE",
            environment="HOMOLOGATION", settings={"uf": "SP"}, created_at=NOW, updated_at=NOW),
        "Documents": Document(
            ck, f"KEY#{KEY}", account_id=ACC, company_id="co1", family="NFE", doc_type="NFE",
            model="55", access_key=KEY, series="1", number=1234, issued_at=NOW,
            issuer_doc="12345678000195", recipient_doc="98765432000198",
            total_value=Decimal("1234.10"), status="AUTHORIZED", direction="IN", kind="SUMMARY",
            event_ids={"210210#001"}, created_at=NOW, updated_at=NOW,
            **_document_index_keys()),
        "DocumentEvents": DocumentEvent(
            f"{ck}#KEY#{KEY}", "110111#001", account_id=ACC, company_id="co1",
            doc_key=f"KEY#{KEY}", doc_type="NFE", family="NFE", type_code="110111",
            description="Cancelamento", seq=1, event_at=NOW, received_at=NOW),
        "SyncCursors": SyncCursor(ck, "NFE", account_id=ACC, company_id="co1",
                                  cnpj="12345678000195", next_allowed_at=NOW, updated_at=NOW,
                                  cons_chnfe_calls=["x"]),
        "SyncRuns": SyncRun(ck, "run1", account_id=ACC, company_id="co1", family="NFE",
                            trigger="USER", status="RUNNING", started_at=NOW,
                            expires_at=NOW + timedelta(days=180)),
        "AuditLogs": AuditLog(ACC, f"{NOW.isoformat()}#a1", audit_id="a1", action="x.y",
                              entity_type="document", entity_id=KEY, entity_key=f"{ACC}#doc",
                              at=NOW, details={"n": 1, "why": ["a"]}),
        "ExportJobs": ExportJob(ACC, "e1", requested_by="u1", status="QUEUED",
                                filters={"doc_type": "NFE"}, created_at=NOW),
        "IdempotencyKeys": IdempotencyKey(f"{ACC}#exports:k", target_id="e1", created_at=NOW,
                                          expires_at=NOW + timedelta(days=1)),
        "Agents": Agent(ACC, "ag1", credential_hash="h", status="ACTIVE", paired_by="u1",
                        paired_at=NOW),
        "AgentConnections": AgentConnection(ACC, "ag1", connection_id="c=1", connected_at=NOW,
                                            last_heartbeat_at=NOW,
                                            expires_at=NOW + timedelta(hours=3)),
        "AgentRequests": AgentRequest(ACC, "r1", agent_id="ag1", action="SIGN_XML",
                                      status="PENDING", created_at=NOW, updated_at=NOW,
                                      expires_at=NOW + timedelta(minutes=15)),
        "PairingCodes": PairingCode("codehash", agent_id="ag1", credential_hash="p",
                                    connection_id="c=1", status="PENDING", created_at=NOW,
                                    valid_until=NOW + timedelta(minutes=10),
                                    expires_at=NOW + timedelta(minutes=10)),
    }  # fmt: skip


def test_specs_cover_every_model_once() -> None:
    names = [spec.logical_name for spec in table_specs()]
    assert names == list(TABLE_MODELS)
    assert set(_samples()) == set(TABLE_MODELS)


def test_tables_created_from_specs_match_the_specs(tables) -> None:
    for spec in table_specs():
        table = tables.describe_table(TableName=physical_table_name(PREFIX, spec.logical_name))
        desc = table["Table"]
        assert {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]} == {
            spec.hash_key.name: "HASH",
            **({spec.range_key.name: "RANGE"} if spec.range_key else {}),
        }
        assert sorted(i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])) == [
            i.name for i in spec.indexes
        ]


@pytest.mark.parametrize("logical_name", list(TABLE_MODELS))
def test_each_model_round_trips_an_item(tables, logical_name: str) -> None:
    item = _samples()[logical_name]
    model = type(item)
    item.save()
    keys = item._get_keys()
    hash_value, range_value = [*keys.values(), None][:2]
    loaded = model.get(hash_value, range_value)
    assert loaded.serialize() == item.serialize()
    if logical_name != "PairingCodes":  # keyed by code hash: the agent has no account yet
        assert str(hash_value).startswith(ACC)


def test_exact_money_and_binary_survive_the_round_trip(tables) -> None:
    samples = _samples()
    samples["Documents"].save()
    samples["Certificates"].save()
    doc = Document.get(f"{ACC}#co1", f"KEY#{KEY}")
    assert doc.total_value == Decimal("1234.10")
    assert isinstance(doc.number, int)
    cert = Certificate.get(ACC, "cert1")
    assert cert.pfx_envelope is not None
    assert cert.pfx_envelope.wrapped_key == b"\x00wk"


def test_bind_tables_is_idempotent_and_rebinds(tables) -> None:
    bind_tables(PREFIX, region=REGION)
    bind_tables(PREFIX, region=REGION)
    assert Document.Meta.table_name == "test-Documents"
    bind_tables("other", region=REGION, host="http://localhost:1")
    try:
        assert Document.Meta.table_name == "other-Documents"
        assert Document._get_connection().connection.host == "http://localhost:1"
    finally:
        for model in TABLE_MODELS.values():  # bind_tables sets a host, never unsets one
            model.Meta.host = None
        bind_tables(PREFIX, region=REGION)
    assert Document._get_connection().connection.host is None
    _samples()["Documents"].save()


def test_physical_name_rejects_unknown_tables() -> None:
    assert physical_table_name("prod", "Documents") == "prod-Documents"
    with pytest.raises(KeyError):
        physical_table_name("prod", "Nope")
