"""What the cloud asks an A3 agent and what comes back: the contract between the sync and the bridge.

A sync step of an A3 company that needs the token (a SEFAZ exchange over mutual TLS, or an XML
signature) writes an :class:`AgentCall` to the documents bucket and stops; the workflow hands
the call's id to the bridge's dispatch task with a Step Functions task token, the bridge sends
it to the agent (agent/PROTOCOL.md), and when the agent answers it writes the
:class:`AgentReply` next to the call and completes the task token. The step then runs again and
finds the reply (see :mod:`fiscal_core.sync.agent_exchange`).

Everything lives under ``{account}/{company}/agent/{request_id}/``: ``call.json``, the request
body (``call.body``, only when it is too large for a WebSocket message), ``reply.json`` and the
answer's body (``reply.body``, which the agent may upload itself through a presigned PUT).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import ConfigDict, Field

from fiscal_core.model import Model

# API Gateway WebSocket: 128 KB a message. Bodies above this go through S3 presigned links.
INLINE_BODY_LIMIT: Final = 64 * 1024
# How long the workflow waits for one answer before the run fails (the agent may be offline).
ANSWER_TIMEOUT_SECONDS: Final = 300


class CallAction(StrEnum):
    """The two requests an agent serves for the sync (agent/PROTOCOL.md, "Cloud → agent")."""

    SEFAZ_REQUEST = "sefaz_request"
    SIGN_XML = "sign_xml"


class AgentCall(Model):
    """One request for the agent that holds the company's A3 certificate."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    account_id: str
    company_id: str
    certificate_id: str
    fingerprint: str = Field(description="SHA-256 hex of the certificate's DER: which key to use.")
    action: CallAction
    created_at: datetime
    # What makes two calls the same call: a step that runs again must ask the very same thing.
    digest: str
    # sefaz_request
    method: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default={})
    body_b64: str | None = None  # None when the body is in ``call.body``
    timeout_s: int = 60
    # sign_xml
    signed_info_b64: str | None = None


class ReplyError(Model):
    """The agent's ``ok: false`` answer (its codes: agent/PROTOCOL.md)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    retryable: bool = False


class AgentReply(Model):
    """The agent's answer to one :class:`AgentCall`, as the bridge stored it."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    ok: bool
    answered_at: datetime
    agent_id: str
    error: ReplyError | None = None
    # sefaz_request: any HTTP status is an answer; the body is in ``reply.body`` when not inline.
    status: int | None = None
    headers: dict[str, str] = Field(default={})
    body_b64: str | None = None
    # sign_xml
    signature_value_b64: str | None = None
    certificate_b64: str | None = None


def call_prefix(account_id: str, company_id: str, request_id: str) -> str:
    """The folder of one call in the documents bucket."""
    return f"{account_id}/{company_id}/agent/{request_id}"


def call_key(account_id: str, company_id: str, request_id: str) -> str:
    """The :class:`AgentCall` JSON."""
    return f"{call_prefix(account_id, company_id, request_id)}/call.json"


def call_body_key(account_id: str, company_id: str, request_id: str) -> str:
    """A request body too large to travel inline."""
    return f"{call_prefix(account_id, company_id, request_id)}/call.body"


def reply_key(account_id: str, company_id: str, request_id: str) -> str:
    """The :class:`AgentReply` JSON."""
    return f"{call_prefix(account_id, company_id, request_id)}/reply.json"


def reply_body_key(account_id: str, company_id: str, request_id: str) -> str:
    """An answer body too large to travel inline (uploaded by the agent through a presigned PUT)."""
    return f"{call_prefix(account_id, company_id, request_id)}/reply.body"


def certificate_der_key(account_id: str, company_id: str, certificate_id: str) -> str:
    """An A3 certificate as its agent reported it (DER): the KeyInfo of what the token signs."""
    return f"{account_id}/{company_id}/agent/certificate-{certificate_id}.der"


def exchange_digest(method: str, url: str, body: bytes) -> str:
    """What identifies a SEFAZ exchange: the same page asked again has the same digest."""
    h = hashlib.sha256()
    for part in (method.encode(), url.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def signature_digest(signed_info: bytes) -> str:
    """What identifies a signature request: the canonical SignedInfo's hash."""
    return hashlib.sha256(b"sign_xml\0" + signed_info).hexdigest()


def b64(data: bytes) -> str:
    """Standard base64 with padding, as the protocol writes binary."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """The bytes of a base64 field; ValueError when it is not base64."""
    return base64.b64decode(text.encode("ascii"), validate=True)
