"""The A3 bridge: paired agents, their live connections, requests in flight, pairing codes."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection
from pynamodb.models import Model

from fiscal_core.storage.attributes import UTCTimestampAttribute
from fiscal_core.storage.models.base import GlobalIndex, placeholder_table


class Agent(Model):
    """A paired on-prem agent: its credential (hashed) and what it may serve.

    Long-lived, so no TTL; the live connection is a separate, expiring item.
    """

    class Meta:
        table_name = placeholder_table("Agents")

    account_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)
    credential_hash = UnicodeAttribute()
    company_ids = ListAttribute(of=UnicodeAttribute, default=list)
    certificate_ids = ListAttribute(of=UnicodeAttribute, default=list)
    machine = UnicodeAttribute(null=True)
    agent_version = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # ACTIVE | REVOKED
    paired_by = UnicodeAttribute()
    paired_at = UTCTimestampAttribute()
    revoked_at = UTCTimestampAttribute(null=True)


class ConnectionById(GlobalIndex["AgentConnection"]):
    """WebSocket events carry only the connection id: this leads back to account and agent."""

    class Meta:
        index_name = "by_connection_id"
        projection = AllProjection()

    connection_id = UnicodeAttribute(hash_key=True)


class AgentConnection(Model):
    """An agent's current WebSocket connection; one per agent, replaced on reconnect.

    The TTL follows the heartbeats: API Gateway closes a connection after 2 hours, so an item
    whose agent stopped beating is gone soon after even if ``$disconnect`` never arrived.
    """

    class Meta:
        table_name = placeholder_table("AgentConnections")

    account_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)
    connection_id = UnicodeAttribute()
    company_ids = ListAttribute(of=UnicodeAttribute, default=list)
    certificate_ids = ListAttribute(of=UnicodeAttribute, default=list)
    connected_at = UTCTimestampAttribute()
    last_heartbeat_at = UTCTimestampAttribute()
    agent_version = UnicodeAttribute(null=True)
    machine = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()

    by_connection_id = ConnectionById()


class AgentRequest(Model):
    """A request sent to an agent, awaited by a Step Functions task token."""

    class Meta:
        table_name = placeholder_table("AgentRequests")

    account_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)
    agent_id = UnicodeAttribute()
    action = UnicodeAttribute()  # TLS_EXCHANGE | SIGN_XML | LIST_CERTIFICATES
    status = UnicodeAttribute()  # PENDING | SENT | SUCCEEDED | FAILED | EXPIRED
    task_token = UnicodeAttribute(null=True)
    payload_s3_key = UnicodeAttribute(null=True)  # payloads over the frame limit go via S3
    result_s3_key = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_at = UTCTimestampAttribute()
    updated_at = UTCTimestampAttribute()
    expires_at = TTLAttribute()


class PairingCode(Model):
    """A one-time pairing code shown by an agent, valid ten minutes.

    Keyed by the code's hash, not the code: the agent has no account yet, and a leaked table
    dump must not yield live codes. The user who enters the code claims it for their account.
    """

    class Meta:
        table_name = placeholder_table("PairingCodes")

    code_hash = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute()
    poll_secret_hash = UnicodeAttribute()  # the agent proves it started this pairing
    machine = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # PENDING | CLAIMED
    account_id = UnicodeAttribute(null=True)
    claimed_by = UnicodeAttribute(null=True)
    company_ids = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UTCTimestampAttribute()
    expires_at = TTLAttribute()
