"""Fiscal documents and their events.

A document's primary key is (``<account>#<company>``, ``KEY#<access key>`` or
``EXT#<type>#<external id>``), so it is unique per company by construction; the same NF-e
under the issuer's and the recipient's company is two items, in their own accounts.

Every list of documents is one Query on an index whose partition is the filter itself
(``<account>#<company>[#<values>...]``) and whose sort key is the issue date, so each filter
with a period is a key condition and reads only what it returns; ``by_company_value`` sorts a
company's documents by their total instead (a DynamoDB number: numeric order, exact cents), so
a value range is a key condition too. Projections are ALL: an item
without its XML (kept in S3) is about 1 KB, and DynamoDB's cap of 100 projected attributes per
table would not let INCLUDE projections cover this many indexes.
"""

from __future__ import annotations

from typing import Final

from pynamodb.attributes import UnicodeAttribute, UnicodeSetAttribute, VersionAttribute
from pynamodb.indexes import AllProjection
from pynamodb.models import Model

from fiscal_core.storage.attributes import DecimalAttribute, IntegerAttribute, UTCTimestampAttribute
from fiscal_core.storage.models.base import GlobalIndex, placeholder_table

# Index name → the attribute holding its partition key. Listed once so the model, the
# repository and the documentation agree on what each index is for.
DOCUMENT_INDEXES: Final[dict[str, str]] = {
    "by_company_issued_at": "company_key",
    "by_account_issued_at": "account_id",
    "by_type": "k_type",
    "by_direction": "k_direction",
    "by_status": "k_status",
    "by_type_direction": "k_type_direction",
    "by_type_status": "k_type_status",
    "by_direction_status": "k_direction_status",
    "by_type_direction_status": "k_type_direction_status",
    "by_issuer": "k_issuer",
    "by_recipient": "k_recipient",
    "pending_summaries": "k_pending_summary",
    "by_company_value": "company_key",
}
# Indexes sorted by ``total_value`` rather than ``issued_at``. Sparse: a document without a
# total (no vNF in what SEFAZ sent) is in none of them.
VALUE_INDEXES: Final[frozenset[str]] = frozenset({"by_company_value"})


def _index(index_name: str) -> GlobalIndex[Document]:
    """A documents index: partition on its scope attribute, sorted by issue date (or value)."""
    meta = type("Meta", (), {"index_name": index_name, "projection": AllProjection()})
    sort: dict[str, DecimalAttribute | UTCTimestampAttribute] = (
        {"total_value": DecimalAttribute(range_key=True)}
        if index_name in VALUE_INDEXES
        else {"issued_at": UTCTimestampAttribute(range_key=True)}
    )
    cls = type(
        f"Documents_{index_name}",
        (GlobalIndex,),
        {"Meta": meta, DOCUMENT_INDEXES[index_name]: UnicodeAttribute(hash_key=True), **sort},
    )
    index: GlobalIndex[Document] = cls()
    return index


class Document(Model):
    """One fiscal document as one company sees it: a summary first, or the full XML."""

    class Meta:
        table_name = placeholder_table("Documents")

    company_key = UnicodeAttribute(hash_key=True)  # <account>#<company>
    doc_key = UnicodeAttribute(range_key=True)  # KEY#<access key> | EXT#<type>#<external id>
    account_id = UnicodeAttribute()
    company_id = UnicodeAttribute()
    family = UnicodeAttribute()  # the sync source: NFE | CTE | MDFE | NFSE
    doc_type = UnicodeAttribute()  # NFE | NFCE | CTE | MDFE | NFSE
    model = UnicodeAttribute(null=True)  # mod: 55, 65, 57, 67, 58; none for NFS-e
    access_key = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    series = UnicodeAttribute(null=True)
    number = IntegerAttribute(null=True)
    issued_at = UTCTimestampAttribute()
    issuer_doc = UnicodeAttribute()
    issuer_name = UnicodeAttribute(null=True)
    recipient_doc = UnicodeAttribute(null=True)
    recipient_name = UnicodeAttribute(null=True)
    total_value = DecimalAttribute(null=True)
    status = UnicodeAttribute()  # AUTHORIZED | CANCELLED | DENIED
    protocol = UnicodeAttribute(null=True)
    direction = UnicodeAttribute()  # IN | OUT | THIRD, from this company's point of view
    kind = UnicodeAttribute()  # SUMMARY | FULL
    s3_key = UnicodeAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    nsu = UnicodeAttribute(null=True)  # 15 digits, as SEFAZ writes it
    event_ids = UnicodeSetAttribute(null=True)  # <tpEvento>#<seq> of every linked event
    manifestacao = UnicodeAttribute(null=True)  # CIENCIA | CONFIRMADA | DESCONHECIDA | NAO_REALIZADA
    manifestacao_at = UTCTimestampAttribute(null=True)
    created_at = UTCTimestampAttribute()
    updated_at = UTCTimestampAttribute()
    # Index partition keys, derived by the repository on every write (storage.document_keys).
    k_type = UnicodeAttribute()
    k_direction = UnicodeAttribute()
    k_status = UnicodeAttribute()
    k_type_direction = UnicodeAttribute()
    k_type_status = UnicodeAttribute()
    k_direction_status = UnicodeAttribute()
    k_type_direction_status = UnicodeAttribute()
    k_issuer = UnicodeAttribute()
    k_recipient = UnicodeAttribute(null=True)  # sparse: an NFC-e may name no recipient
    k_pending_summary = UnicodeAttribute(null=True)  # sparse: set only while kind is SUMMARY
    # Optimistic lock: the summary → full upgrade and event effects are read-modify-write.
    version = VersionAttribute()

    by_company_issued_at = _index("by_company_issued_at")
    by_account_issued_at = _index("by_account_issued_at")
    by_type = _index("by_type")
    by_direction = _index("by_direction")
    by_status = _index("by_status")
    by_type_direction = _index("by_type_direction")
    by_type_status = _index("by_type_status")
    by_direction_status = _index("by_direction_status")
    by_type_direction_status = _index("by_type_direction_status")
    by_issuer = _index("by_issuer")
    by_recipient = _index("by_recipient")
    pending_summaries = _index("pending_summaries")
    by_company_value = _index("by_company_value")


class DocumentEvent(Model):
    """An event (cancellation, CC-e, manifestação) of one company's document.

    It is stored under the document's key even when it arrives before the document, and carries
    the effect it has on the document so that effect can be applied whichever comes first.
    """

    class Meta:
        table_name = placeholder_table("DocumentEvents")

    document_key = UnicodeAttribute(hash_key=True)  # <account>#<company>#<doc key>
    event_key = UnicodeAttribute(range_key=True)  # <tpEvento>#<seq:03>
    account_id = UnicodeAttribute()
    company_id = UnicodeAttribute()
    doc_key = UnicodeAttribute()
    doc_type = UnicodeAttribute()
    access_key = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    family = UnicodeAttribute()
    type_code = UnicodeAttribute()  # tpEvento: 110111, 110110, 210200 ...
    description = UnicodeAttribute()
    seq = IntegerAttribute()
    protocol = UnicodeAttribute(null=True)
    event_at = UTCTimestampAttribute()
    author_doc = UnicodeAttribute(null=True)
    status_effect = UnicodeAttribute(null=True)  # the document status this event sets
    manifestacao_effect = UnicodeAttribute(null=True)  # the manifestação state it records
    s3_key = UnicodeAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    nsu = UnicodeAttribute(null=True)
    received_at = UTCTimestampAttribute()
