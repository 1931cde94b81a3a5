"""The table registry: logical names, the specs infra builds, and binding at cold start.

Models declare placeholder table names; a handler calls :func:`bind_tables` once with the
deployment's prefix (from its environment model), so importing a model never reads the
environment and tests can bind to whatever prefix they create.
"""

from __future__ import annotations

from typing import Final

from pynamodb.models import Model

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
    ExportJob,
    IdempotencyKey,
    PairingCode,
    SyncCursor,
    SyncRun,
    User,
)
from fiscal_core.storage.schema import TableSpec, table_spec

TABLE_MODELS: Final[dict[str, type[Model]]] = {
    "Accounts": Account,
    "Users": User,
    "Companies": Company,
    "CompanyUserPermissions": CompanyUserPermission,
    "Certificates": Certificate,
    "ConnectorConfigs": ConnectorConfig,
    "Documents": Document,
    "DocumentEvents": DocumentEvent,
    "SyncCursors": SyncCursor,
    "SyncRuns": SyncRun,
    "AuditLogs": AuditLog,
    "ExportJobs": ExportJob,
    "IdempotencyKeys": IdempotencyKey,
    "Agents": Agent,
    "AgentConnections": AgentConnection,
    "AgentRequests": AgentRequest,
    "PairingCodes": PairingCode,
}


def table_specs() -> list[TableSpec]:
    """The definition of every table (keys, indexes, TTL), derived from its model."""
    return [table_spec(model, name) for name, model in TABLE_MODELS.items()]


def physical_table_name(prefix: str, logical_name: str) -> str:
    """The deployed name of a table: ``<prefix>-<logical name>``."""
    if logical_name not in TABLE_MODELS:
        raise KeyError(f"no table is called {logical_name!r}")
    return f"{prefix}-{logical_name}"


def bind_tables(prefix: str, *, region: str | None = None, host: str | None = None) -> None:
    """Point every model at its deployed table; call once at cold start, again to rebind.

    ``region`` and ``host`` override botocore's own resolution (``AWS_REGION``,
    ``AWS_ENDPOINT_URL_DYNAMODB``) only when given. Indexes need no binding: PynamoDB routes
    their queries through the model that owns them.
    """
    if not prefix:
        raise ValueError("a table prefix is required")
    for logical_name, model in TABLE_MODELS.items():
        meta = model.Meta
        before = (meta.table_name, meta.region, meta.host)
        meta.table_name = physical_table_name(prefix, logical_name)
        if region is not None:
            meta.region = region
        if host is not None:
            meta.host = host
        # PynamoDB caches one connection (one botocore client) per model and rebuilds it only
        # when the table name changes; drop it when the region or host changed too, and only
        # then, since building a client costs tens of milliseconds.
        if (meta.table_name, meta.region, meta.host) != before:
            model._connection = None
