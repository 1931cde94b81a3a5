"""The messages agents send the bridge (agent/PROTOCOL.md), read strictly but never with a traceback.

Every message is a JSON object with ``action`` and ``id``; :func:`read_message` turns a WebSocket
body into one of the models below or raises :class:`BadMessage`, whose code and text go back to
the agent as a note. Unknown fields are ignored (a newer agent may say more), sizes are bounded.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import ConfigDict, Field, StringConstraints, ValidationError

from fiscal_core.model import Model

Text = Annotated[str, StringConstraints(max_length=1024)]
Short = Annotated[str, StringConstraints(max_length=200)]
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
Fingerprint = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
MAX_CERTIFICATES: Final = 50


class _Message(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: MessageId


class TokenState(Model):
    """The token as ``hello`` describes it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ready: bool
    label: Short | None = None
    serial: Short | None = None
    model: Short | None = None


# An ICP-Brasil end-entity certificate is a few KB; anything much larger is not one.
MAX_CERTIFICATE_B64 = 24 * 1024


class ReportedCertificate(Model):
    """An end-entity certificate whose key is on the token."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fingerprint_sha256: Fingerprint
    subject: Text
    issuer: Text
    serial_number: Short
    not_before: datetime
    not_after: datetime
    holder_name: Short | None = None
    cnpj: Annotated[str, StringConstraints(pattern=r"^\d{14}$")] | None = None
    # The DER, base64: what the cloud puts in the KeyInfo of what the token signs.
    certificate: Annotated[str, StringConstraints(max_length=MAX_CERTIFICATE_B64)] | None = None

    def der(self) -> bytes | None:
        """The certificate's DER when it came and is the one the fingerprint names, else None."""
        if self.certificate is None:
            return None
        try:
            der = base64.b64decode(self.certificate, validate=True)
        except ValueError:
            return None
        return der if hashlib.sha256(der).hexdigest() == self.fingerprint_sha256 else None


class Hello(_Message):
    """The first message of every connection: the agent, its machine, its token."""

    protocol: int = Field(ge=1)
    agent_version: Short
    machine: dict[Short, Short] = Field(default={}, max_length=20)
    token: TokenState
    certificates: list[ReportedCertificate] = Field(default=[], max_length=MAX_CERTIFICATES)

    def machine_text(self) -> str:
        """``CONTAB-01 (Windows 10 AMD64)``: what the app shows beside the agent."""
        host, system = self.machine.get("hostname", "?"), self.machine.get("os")
        return f"{host} ({system})" if system else host


class Heartbeat(_Message):
    """Every 4 minutes; ``pairing`` while the agent still waits for its code to be entered."""

    token_ready: bool | None = None
    pairing: bool = False


class AnswerError(Model):
    """An ``ok: false`` answer's error."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: Short
    message: Text
    retryable: bool = False


class Response(_Message):
    """The agent's answer to one request (or its acknowledgement of ``paired``)."""

    ok: bool
    error: AnswerError | None = None
    agent_id: Short | None = None
    # sefaz_request
    status: int | None = Field(default=None, ge=100, le=599)
    headers: dict[Short, Text] = Field(default={}, max_length=100)
    body: str | None = None
    body_uploaded: bool = False
    body_size: int | None = Field(default=None, ge=0)
    body_sha256: Fingerprint | None = None
    # sign_xml
    signature_value: str | None = None
    signature_method: Short | None = None
    certificate: str | None = None


MODELS: Final[dict[str, type[_Message]]] = {"hello": Hello, "heartbeat": Heartbeat, "response": Response}


class BadMessage(Exception):
    """A message the bridge cannot act on; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str, message_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_id = message_id


def read_message(body: object) -> Hello | Heartbeat | Response:
    """The message in a WebSocket body; BadMessage when it is not JSON, unknown, or malformed."""
    try:
        data: Any = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BadMessage("bad_request", "a message must be a JSON object with action and id")
    action, message_id = data.get("action"), data.get("id")
    readable_id = message_id if isinstance(message_id, str) else None
    model = MODELS.get(action) if isinstance(action, str) else None
    if model is None:
        raise BadMessage("unknown_action", f"the bridge does not serve the action {action!r}", readable_id)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
        raise BadMessage("bad_request", f"invalid {action} message: check {fields}", readable_id) from None
    assert isinstance(parsed, Hello | Heartbeat | Response)
    return parsed


def note(code: str, message: str, in_reply_to: str | None = None) -> dict[str, Any]:
    """A note for the agent's log: no ``action`` and no ``id``, so it is never answered back."""
    payload: dict[str, Any] = {"message": message, "error": {"code": code, "message": message}}
    if in_reply_to is not None:
        payload["in_reply_to"] = in_reply_to
    return payload
