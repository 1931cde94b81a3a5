"""The DF-e sync: one cursor per (company, family) and one record per run."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from fiscal_core.storage.attributes import IntegerAttribute, UTCTimestampAttribute
from fiscal_core.storage.models.base import GlobalIndex, include, placeholder_table


class CursorsDue(GlobalIndex["SyncCursor"]):
    """Cursors by the time their next call is allowed: the scheduler's fan-out.

    The one index whose partition is not an account: the scheduler works for every tenant.
    It is sparse (only cursors with ``schedule_shard`` set, i.e. enabled ones) and spread over
    a few shards so no single partition carries every company.
    """

    class Meta:
        index_name = "due"
        projection = include("account_id", "company_id", "cnpj")

    schedule_shard = UnicodeAttribute(hash_key=True)
    next_allowed_at = UTCTimestampAttribute(range_key=True)


class SyncCursor(Model):
    """Where a company's distribution sync stands for one family, and who is working it."""

    class Meta:
        table_name = placeholder_table("SyncCursors")

    company_key = UnicodeAttribute(hash_key=True)  # <account>#<company>
    family = UnicodeAttribute(range_key=True)  # NFE | CTE | MDFE | NFSE
    account_id = UnicodeAttribute()
    company_id = UnicodeAttribute()
    cnpj = UnicodeAttribute()
    last_nsu = UnicodeAttribute(default="000000000000000")  # ultNSU: always resent as received
    max_nsu = UnicodeAttribute(default="000000000000000")
    next_allowed_at = UTCTimestampAttribute()
    block_reason = UnicodeAttribute(null=True)  # CAUGHT_UP | NO_DOCUMENTS_137 | BLOCKED_656 ...
    block_detail = UnicodeAttribute(null=True)  # xMotivo, shown to the user as is
    lease_owner = UnicodeAttribute(null=True)
    lease_expires_at = UTCTimestampAttribute(null=True)
    # Sliding one-hour windows of consNSU / consChNFe calls (SEFAZ allows 20 an hour).
    cons_nsu_calls = ListAttribute(of=UnicodeAttribute, default=list)
    cons_chnfe_calls = ListAttribute(of=UnicodeAttribute, default=list)
    last_error = UnicodeAttribute(null=True)
    last_error_at = UTCTimestampAttribute(null=True)
    last_success_at = UTCTimestampAttribute(null=True)
    schedule_shard = UnicodeAttribute(null=True)
    updated_at = UTCTimestampAttribute()
    revision = IntegerAttribute(default=0)  # bumped by every write; budget updates compare it

    due = CursorsDue()


class SyncRun(Model):
    """One execution of the sync for a company and family; run ids sort by start time."""

    class Meta:
        table_name = placeholder_table("SyncRuns")

    company_key = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)  # time-sortable (storage.ids), newest last
    account_id = UnicodeAttribute()
    company_id = UnicodeAttribute()
    family = UnicodeAttribute()
    trigger = UnicodeAttribute()  # SCHEDULE | USER
    requested_by = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # RUNNING | SUCCEEDED | WAITING | FAILED
    execution_arn = UnicodeAttribute(null=True)
    started_at = UTCTimestampAttribute()
    finished_at = UTCTimestampAttribute(null=True)
    first_nsu = UnicodeAttribute(null=True)
    last_nsu = UnicodeAttribute(null=True)
    pages = IntegerAttribute(default=0)
    docs_found = IntegerAttribute(default=0)
    docs_saved = IntegerAttribute(default=0)
    events_saved = IntegerAttribute(default=0)
    error_code = UnicodeAttribute(null=True)
    error_summary = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # run history is kept for a retention period
