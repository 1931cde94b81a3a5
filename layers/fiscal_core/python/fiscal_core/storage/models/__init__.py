"""PynamoDB models of every FiscalMix table; only the storage repositories use them directly."""

from fiscal_core.storage.models.agents import Agent, AgentConnection, AgentRequest, PairingCode
from fiscal_core.storage.models.documents import DOCUMENT_INDEXES, Document, DocumentEvent
from fiscal_core.storage.models.operations import AuditLog, ExportJob, IdempotencyKey
from fiscal_core.storage.models.sync import SyncCursor, SyncRun
from fiscal_core.storage.models.tenancy import (
    Account,
    Certificate,
    Company,
    CompanyUserPermission,
    ConnectorConfig,
    EnvelopeMap,
    User,
)

__all__ = [
    "DOCUMENT_INDEXES",
    "Account",
    "Agent",
    "AgentConnection",
    "AgentRequest",
    "AuditLog",
    "Certificate",
    "Company",
    "CompanyUserPermission",
    "ConnectorConfig",
    "Document",
    "DocumentEvent",
    "EnvelopeMap",
    "ExportJob",
    "IdempotencyKey",
    "PairingCode",
    "SyncCursor",
    "SyncRun",
    "User",
]
