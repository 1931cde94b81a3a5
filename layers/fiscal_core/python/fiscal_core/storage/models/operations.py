"""Audit log, export jobs and the idempotency markers that make requests safe to repeat."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection
from pynamodb.models import Model

from fiscal_core.storage.attributes import IntegerAttribute, UTCTimestampAttribute, json_map
from fiscal_core.storage.models.base import GlobalIndex, placeholder_table


class AuditByEntity(GlobalIndex["AuditLog"]):
    """History of one entity (a document, a company, a certificate) by time."""

    class Meta:
        index_name = "by_entity"
        projection = AllProjection()

    entity_key = UnicodeAttribute(hash_key=True)  # <account>#<entity type>:<entity id>
    audit_key = UnicodeAttribute(range_key=True)


class AuditByUser(GlobalIndex["AuditLog"]):
    """What one user did, by time."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_key = UnicodeAttribute(hash_key=True)  # <account>#<user>
    audit_key = UnicodeAttribute(range_key=True)


class AuditLog(Model):
    """Who did what, when and from where: every mutation and every download."""

    class Meta:
        table_name = placeholder_table("AuditLogs")

    account_id = UnicodeAttribute(hash_key=True)
    audit_key = UnicodeAttribute(range_key=True)  # <at>#<audit id>
    audit_id = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)  # none for system actions (scheduled sync)
    user_key = UnicodeAttribute(null=True)
    action = UnicodeAttribute()  # document.download, certificate.upload ...
    entity_type = UnicodeAttribute()
    entity_id = UnicodeAttribute()
    entity_key = UnicodeAttribute()
    company_id = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    at = UTCTimestampAttribute()
    details = json_map()
    expires_at = TTLAttribute(null=True)  # the retention period, five years

    by_entity = AuditByEntity()
    by_user = AuditByUser()


class ExportJob(Model):
    """A ZIP export of selected documents; ids sort by creation, so the newest are last."""

    class Meta:
        table_name = placeholder_table("ExportJobs")

    account_id = UnicodeAttribute(hash_key=True)
    export_id = UnicodeAttribute(range_key=True)  # time-sortable (storage.ids)
    requested_by = UnicodeAttribute()
    idempotency_key = UnicodeAttribute(null=True)
    filters = json_map()
    options = json_map()
    status = UnicodeAttribute()  # QUEUED | RUNNING | SUCCEEDED | FAILED
    progress = IntegerAttribute(default=0)  # percent
    total_docs = IntegerAttribute(default=0)
    processed_docs = IntegerAttribute(default=0)
    failed_docs = IntegerAttribute(default=0)
    size_bytes = IntegerAttribute(default=0)
    s3_key = UnicodeAttribute(null=True)
    errors = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UTCTimestampAttribute()
    started_at = UTCTimestampAttribute(null=True)
    finished_at = UTCTimestampAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class IdempotencyKey(Model):
    """A client's idempotency key, claimed once; points at what the first request created."""

    class Meta:
        table_name = placeholder_table("IdempotencyKeys")

    scope_key = UnicodeAttribute(hash_key=True)  # <account>#<scope>:<client key>
    target_id = UnicodeAttribute()
    created_at = UTCTimestampAttribute()
    expires_at = TTLAttribute()
