"""The A3 bridge: paired agents, their live connections, requests in flight, pairing codes."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, ListAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, KeysOnlyProjection
from pynamodb.models import Model

from fiscal_core.storage.attributes import UTCTimestampAttribute
from fiscal_core.storage.models.base import GlobalIndex, placeholder_table


class AgentByCredential(GlobalIndex["Agent"]):
    """``$connect`` knows only the credential: its hash leads to the agent (and its account)."""

    class Meta:
        index_name = "by_credential"
        projection = KeysOnlyProjection()

    credential_hash = UnicodeAttribute(hash_key=True)


class Agent(Model):
    """A paired on-prem agent: its credential (hashed) and what it may serve.

    Long-lived, so no TTL; the live connection is a separate, expiring item.
    """

    class Meta:
        table_name = placeholder_table("Agents")

    account_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)
    credential_hash = UnicodeAttribute()  # sha256 hex of the credential; never the credential
    company_ids = ListAttribute(of=UnicodeAttribute, default=list)
    certificate_ids = ListAttribute(of=UnicodeAttribute, default=list)
    machine = UnicodeAttribute(null=True)
    agent_version = UnicodeAttribute(null=True)
    token_ready = BooleanAttribute(null=True)
    status = UnicodeAttribute()  # ACTIVE | REVOKED
    paired_by = UnicodeAttribute()
    paired_at = UTCTimestampAttribute()
    paired_from_ip = UnicodeAttribute(null=True)
    last_seen_at = UTCTimestampAttribute(null=True)  # last message or disconnect
    revoked_at = UTCTimestampAttribute(null=True)

    by_credential = AgentByCredential()


class ConnectionById(GlobalIndex["AgentConnection"]):
    """WebSocket events carry only the connection id: this leads back to account and agent."""

    class Meta:
        index_name = "by_connection_id"
        projection = AllProjection()

    connection_id = UnicodeAttribute(hash_key=True)


class AgentConnection(Model):
    """An agent's current WebSocket connection; one per agent, replaced on reconnect.

    The TTL follows the heartbeats: API Gateway closes a connection after 10 idle minutes, so an
    item whose agent stopped beating is gone soon after even if ``$disconnect`` never arrived.
    """

    class Meta:
        table_name = placeholder_table("AgentConnections")

    account_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)
    connection_id = UnicodeAttribute()
    company_ids = ListAttribute(of=UnicodeAttribute, default=list)
    certificate_ids = ListAttribute(of=UnicodeAttribute, default=list)
    # SHA-256 of the certificates on the token, as the last hello reported them.
    fingerprints = ListAttribute(of=UnicodeAttribute, default=list)
    hello_at = UTCTimestampAttribute(null=True)  # None until the agent said hello
    token_ready = BooleanAttribute(null=True)
    connected_at = UTCTimestampAttribute()
    last_heartbeat_at = UTCTimestampAttribute()
    agent_version = UnicodeAttribute(null=True)
    machine = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()

    by_connection_id = ConnectionById()


class WaitingByCompany(GlobalIndex["AgentRequest"]):
    """Requests waiting for an agent of the company: sparse, ``waiting_key`` exists only then."""

    class Meta:
        index_name = "waiting"
        projection = AllProjection()

    waiting_key = UnicodeAttribute(hash_key=True)  # <account>#<company>
    created_at = UTCTimestampAttribute(range_key=True)


class AgentRequest(Model):
    """A request for an agent, awaited by a Step Functions task token."""

    class Meta:
        table_name = placeholder_table("AgentRequests")

    account_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)
    company_id = UnicodeAttribute(null=True)
    certificate_id = UnicodeAttribute(null=True)
    fingerprint = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)  # the agent it was sent to; None until sent
    connection_id = UnicodeAttribute(null=True)
    action = UnicodeAttribute()  # sefaz_request | sign_xml
    status = UnicodeAttribute()  # PENDING | WAITING | SENT | SUCCEEDED | FAILED
    task_token = UnicodeAttribute(null=True)
    waiting_key = UnicodeAttribute(null=True)
    payload_s3_key = UnicodeAttribute(null=True)  # payloads over the frame limit go via S3
    result_s3_key = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_at = UTCTimestampAttribute()
    updated_at = UTCTimestampAttribute()
    sent_at = UTCTimestampAttribute(null=True)
    answered_at = UTCTimestampAttribute(null=True)
    expires_at = TTLAttribute()

    waiting = WaitingByCompany()


class PairingCode(Model):
    """A one-time pairing code shown by an agent, valid ten minutes.

    Keyed by the code's hash, not the code: the agent has no account yet, and a leaked table
    dump must not yield live codes. The user who enters the code claims it for their account.
    """

    class Meta:
        table_name = placeholder_table("PairingCodes")

    code_hash = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute()  # chosen when the pairing is recorded
    credential_hash = UnicodeAttribute()  # the credential the agent connected with, hashed
    connection_id = UnicodeAttribute()  # the pending connection, where ``paired`` goes
    source_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # PENDING | CLAIMED
    account_id = UnicodeAttribute(null=True)
    company_id = UnicodeAttribute(null=True)
    claimed_by = UnicodeAttribute(null=True)
    created_at = UTCTimestampAttribute()
    valid_until = UTCTimestampAttribute()  # checked on use; the TTL only cleans up later
    expires_at = TTLAttribute()
