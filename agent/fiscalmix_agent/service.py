"""What the agent does for each request: sign on the token, or make the SEFAZ exchange with it.

Blocking code, run on worker threads by the client; every outcome becomes a ``response`` message
(PROTOCOL.md), failures included, so the cloud never waits for an answer that will not come.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization

from fiscalmix_agent import __version__
from fiscalmix_agent.errors import AgentError, PayloadTooLarge, TokenError
from fiscalmix_agent.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    Action,
    Message,
    SefazRequest,
    SignXml,
    b64,
    encode,
    new_id,
    now_iso,
    response_error,
    response_ok,
)
from fiscalmix_agent.signer import TokenSigner
from fiscalmix_agent.tls import HttpResponse, Timeouts, TokenHttpsTransport
from fiscalmix_agent.token import TokenSession
from fiscalmix_agent.transfer import PresignedTransfer, check_url
from fiscalmix_agent.trust import HostPolicy, ServerVerifier
from fiscalmix_agent.xmlsign import sign_signed_info

logger = logging.getLogger(__name__)


def machine() -> dict[str, str]:
    """Which computer the agent runs on, as the app shows it next to the certificate."""
    return {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}".strip(),
        "python": platform.python_version(),
    }


class HttpTransport(Protocol):
    """Makes one HTTPS exchange with the company's certificate: :class:`TokenHttpsTransport`."""

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        read_timeout: float | None = None,
    ) -> HttpResponse:
        """Send the request; raise an AgentError when no answer came."""
        ...


TransportFactory = Callable[[TokenSigner], HttpTransport]


def token_transports(
    verifier: ServerVerifier, hosts: HostPolicy | None = None, timeouts: Timeouts | None = None
) -> TransportFactory:
    """Mutual TLS on the token, verifying servers with ``verifier``, only towards ``hosts``."""
    return lambda signer: TokenHttpsTransport(signer, verifier, hosts=hosts, timeouts=timeouts)


@dataclass
class RequestService:
    """Serves ``sign_xml`` and ``sefaz_request`` with the token, and describes it in ``hello``.

    ``transports`` makes the HTTPS client of a certificate (once per certificate);
    ``transfer`` moves bodies through presigned URLs.
    """

    token: TokenSession
    transports: TransportFactory
    transfer: PresignedTransfer = field(default_factory=PresignedTransfer)
    _made: dict[str, HttpTransport] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def hello(self) -> Message:
        """The ``hello`` message: the agent, the machine, the token and its usable certificates."""
        message: Message = {
            "action": Action.HELLO.value,
            "id": new_id(),
            "protocol": PROTOCOL_VERSION,
            "agent_version": __version__,
            "machine": machine(),
        }
        try:
            certificates = self.token.certificates()
            mechanisms = sorted(f"CKM_{mechanism.name}" for mechanism in self.token.mechanisms())
            message["token"] = {**self.token.description.to_json(), "ready": True, "mechanisms": mechanisms}
            message["certificates"] = [certificate.info.to_json() for certificate in certificates]
        except TokenError as exc:
            message["token"] = {"ready": False, "error": {"code": exc.code, "message": exc.message}}
            message["certificates"] = []
        return message

    def heartbeat(self) -> Message:
        """The ``heartbeat`` message; a token that went away is looked for again first."""
        return {
            "action": Action.HEARTBEAT.value,
            "id": new_id(),
            "sent_at": now_iso(),
            "token_ready": self.token.ensure_open(),
        }

    def handle(self, request: SignXml | SefazRequest) -> Message:
        """The ``response`` to one request; never raises."""
        try:
            if isinstance(request, SignXml):
                return self._sign_xml(request)
            return self._sefaz_request(request)
        except AgentError as exc:
            logger.warning("request %s failed: %s", request.id, exc.message)
            return response_error(request.id, exc)
        except Exception:
            logger.exception("request %s failed unexpectedly", request.id)
            return response_error(request.id, AgentError("the agent failed unexpectedly; see its log"))

    def _signer(self, fingerprint: str | None) -> TokenSigner:
        return TokenSigner(self.token, self.token.certificate(fingerprint))

    def _sign_xml(self, request: SignXml) -> Message:
        signer = self._signer(request.certificate)
        signed = sign_signed_info(signer, request.signed_info)
        return response_ok(
            request.id,
            signature_value=b64(signed.signature_value),
            signature_method=signed.signature_method,
            certificate=b64(signer.certificate.public_bytes(serialization.Encoding.DER)),
        )

    def _transport(self, fingerprint: str | None) -> HttpTransport:
        signer = self._signer(fingerprint)
        key = signer.certificate.fingerprint(hashes.SHA256()).hex()
        with self._lock:
            if key not in self._made:
                self._made[key] = self.transports(signer)
            return self._made[key]

    def _sefaz_request(self, request: SefazRequest) -> Message:
        if request.upload_url is not None:
            check_url(request.upload_url, "upload_url")  # refuse before the exchange, not after
        body = request.body
        if request.body_url is not None:
            body = self.transfer.download(request.body_url)
        answer = self._transport(request.certificate).request(
            request.method, request.url, body, request.headers, read_timeout=request.timeout_s
        )
        logger.info(
            "%s %s answered %d (%d bytes)", request.method, request.url, answer.status, len(answer.body)
        )
        inline = response_ok(
            request.id, status=answer.status, headers=dict(answer.headers), body=b64(answer.body)
        )
        if _fits(inline):
            return inline
        if request.upload_url is None:
            raise PayloadTooLarge(
                f"the answer of {len(answer.body)} bytes does not fit in a WebSocket message; "
                "send the request again with an upload_url"
            )
        self.transfer.upload(request.upload_url, answer.body)
        return response_ok(
            request.id,
            status=answer.status,
            headers=dict(answer.headers),
            body_uploaded=True,
            body_size=len(answer.body),
            body_sha256=hashlib.sha256(answer.body).hexdigest(),
        )


def _fits(message: Message) -> bool:
    try:
        return len(encode(message)) <= MAX_MESSAGE_BYTES
    except PayloadTooLarge:
        return False
