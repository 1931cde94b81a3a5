"""The JSON messages between the agent and the cloud bridge (PROTOCOL.md is their reference).

Every message is a JSON object with ``action`` (API Gateway routes on it: ``$request.body.action``)
and ``id``. The cloud sends requests (``sign_xml``, ``sefaz_request``, ``paired``); the agent sends
``hello``, ``heartbeat`` and one ``response`` per request, carrying the request's id. Binary data
travels as base64. Messages are ASCII JSON (``ensure_ascii``), so a message's length in characters
is its length in bytes, which is what API Gateway's 128 KB message and 32 KB frame quotas count.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from fiscalmix_agent.errors import AgentError, BadRequest, PayloadTooLarge

PROTOCOL_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 128 * 1024
MAX_FRAME_BYTES: Final = 32 * 1024
MAX_READ_TIMEOUT_S: Final = 120.0
# Headers the agent's HTTP client sets itself; a request that sets them could make the exchange
# say something other than its URL does.
FORBIDDEN_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})

Message = dict[str, Any]


class Action(StrEnum):
    """The ``action`` of each message."""

    HELLO = "hello"
    HEARTBEAT = "heartbeat"
    RESPONSE = "response"
    SIGN_XML = "sign_xml"
    SEFAZ_REQUEST = "sefaz_request"
    PAIRED = "paired"


@dataclass(frozen=True)
class SignXml:
    """``sign_xml``: sign the canonical SignedInfo the cloud built, with one certificate's key."""

    id: str
    signed_info: bytes
    certificate: str | None


@dataclass(frozen=True)
class SefazRequest:
    """``sefaz_request``: one HTTPS exchange with mutual TLS; the body inline or behind ``body_url``."""

    id: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    body_url: str | None = None
    upload_url: str | None = None
    timeout_s: float | None = None
    certificate: str | None = None


@dataclass(frozen=True)
class Paired:
    """``paired``: the cloud accepted the pairing code; the agent keeps its credential from now on."""

    id: str
    agent_id: str
    company: Mapping[str, str] = field(default_factory=dict)
    sefaz_ca_pem: str | None = None


Request = SignXml | SefazRequest | Paired


@dataclass(frozen=True)
class Invalid:
    """A request whose id is readable but whose fields are not: answered with ``bad_request``."""

    id: str
    error: BadRequest


@dataclass(frozen=True)
class Unknown:
    """A message the agent does not serve: an unknown action, or a note from API Gateway itself."""

    id: str | None
    action: str | None
    raw: Mapping[str, Any]


def new_id() -> str:
    """A fresh message id."""
    return uuid.uuid4().hex


def now_iso() -> str:
    """The wall clock, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _field(
    message: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True
) -> Any:
    value = message.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        wanted = "a string" if kind is str else "an object" if kind is dict else "a number"
        raise BadRequest(f"{name} must be {wanted}")
    return value


def _base64(message: Mapping[str, Any], name: str, *, required: bool = True) -> bytes | None:
    text = _field(message, name, str, required=required)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise BadRequest(f"{name} is not base64") from exc


def _headers(message: Mapping[str, Any]) -> dict[str, str]:
    headers = _field(message, "headers", dict, required=False) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise BadRequest("headers must map strings to strings")
    forbidden = sorted(FORBIDDEN_HEADERS & {name.lower() for name in headers})
    if forbidden:
        raise BadRequest(f"headers the agent sets itself cannot be given: {', '.join(forbidden)}")
    return dict(headers)


def _sefaz_request(message: Mapping[str, Any], request_id: str) -> SefazRequest:
    method = _field(message, "method", str).upper()
    if method not in {"GET", "POST"}:
        raise BadRequest(f"method must be GET or POST, got {method}")
    body = _base64(message, "body", required=False)
    body_url = _field(message, "body_url", str, required=False)
    if body is not None and body_url is not None:
        raise BadRequest("give body or body_url, not both")
    timeout = _field(message, "timeout_s", (int, float), required=False)
    if timeout is not None and not 0 < timeout <= MAX_READ_TIMEOUT_S:
        raise BadRequest(f"timeout_s must be in (0, {MAX_READ_TIMEOUT_S:g}]")
    return SefazRequest(
        id=request_id,
        method=method,
        url=_field(message, "url", str),
        headers=_headers(message),
        body=body,
        body_url=body_url,
        upload_url=_field(message, "upload_url", str, required=False),
        timeout_s=None if timeout is None else float(timeout),
        certificate=_field(message, "certificate", str, required=False),
    )


def _paired(message: Mapping[str, Any], request_id: str) -> Paired:
    company = _field(message, "company", dict, required=False) or {}
    return Paired(
        id=request_id,
        agent_id=_field(message, "agent_id", str),
        company={str(k): str(v) for k, v in company.items()},
        sefaz_ca_pem=_field(message, "sefaz_ca_pem", str, required=False),
    )


def _sign_xml(message: Mapping[str, Any], request_id: str) -> SignXml:
    signed_info = _base64(message, "signed_info")
    assert signed_info is not None  # required
    return SignXml(request_id, signed_info, _field(message, "certificate", str, required=False))


_PARSERS: Final[dict[str, Callable[[Mapping[str, Any], str], Request]]] = {
    Action.SIGN_XML: _sign_xml,
    Action.SEFAZ_REQUEST: _sefaz_request,
    Action.PAIRED: _paired,
}


def parse(text: str | bytes) -> Request | Invalid | Unknown:
    """Read one message from the cloud; never raises."""
    try:
        message = json.loads(text)
    except ValueError:
        message = {"text": str(text[:200])}
    if not isinstance(message, dict):
        message = {"value": message}
    request_id, action = message.get("id"), message.get("action")
    readable_id = request_id if isinstance(request_id, str) and request_id else None
    parser = _PARSERS.get(action) if isinstance(action, str) else None
    if readable_id is None or parser is None:
        return Unknown(readable_id, action if isinstance(action, str) else None, message)
    try:
        return parser(message, readable_id)
    except BadRequest as exc:
        return Invalid(readable_id, exc)


def encode(message: Message) -> str:
    """Compact ASCII JSON; PayloadTooLarge above the 128 KB message quota."""
    text = json.dumps(message, ensure_ascii=True, separators=(",", ":"))
    if len(text) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"a {message.get('action')} message of {len(text)} bytes exceeds {MAX_MESSAGE_BYTES}"
        )
    return text


def frames(text: str) -> list[str]:
    """``text`` cut into fragments of at most 32 KB, sent as one fragmented WebSocket message."""
    return [text[start : start + MAX_FRAME_BYTES] for start in range(0, len(text), MAX_FRAME_BYTES)] or [""]


def response_ok(request_id: str, **fields: Any) -> Message:
    """A successful ``response`` to request ``request_id``."""
    return {"action": Action.RESPONSE.value, "id": request_id, "ok": True, **fields}


def response_error(request_id: str, error: AgentError) -> Message:
    """A failed ``response``: the error's code, its message and whether retrying may help."""
    return {
        "action": Action.RESPONSE.value,
        "id": request_id,
        "ok": False,
        "error": {"code": error.code, "message": error.message, "retryable": error.retryable},
    }


def b64(data: bytes) -> str:
    """Base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")
