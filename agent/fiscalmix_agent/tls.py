"""HTTPS with mutual TLS whose client key stays on the token: tlslite-ng, with the signature delegated.

Python's ``ssl`` needs a key it can read; an A3 key cannot be read. tlslite-ng is TLS in pure
Python, so its one use of the client's private key, the TLS 1.2 CertificateVerify signature, can
be handed to the token: tlslite builds the DigestInfo of the handshake hash and :class:`TokenRSAKey`
asks the token to sign it (CKM_RSA_PKCS, or raw RSA over a block padded here). The connection is
pinned to TLS 1.2 with PKCS#1 v1.5 signatures: SEFAZ's servers speak TLS 1.2, and tokens rarely
do RSA-PSS, which TLS 1.3 would require.

The server's chain is checked with ``cryptography`` (see :mod:`fiscalmix_agent.trust`) the moment
its Certificate message arrives, before the token signs anything for that handshake.

One connection per request, as the cloud's transport does: exchanges are seconds apart, and a
fresh connection never meets a keep-alive the server already dropped.
"""

from __future__ import annotations

import http.client
import io
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tlslite import X509, HandshakeSettings, TLSConnection, X509CertChain
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSError, TLSRemoteAlert
from tlslite.utils.python_rsakey import Python_RSAKey

from fiscalmix_agent import __version__
from fiscalmix_agent.errors import (
    AgentError,
    BadRequest,
    ConnectionFailed,
    ExchangeTimeout,
    PayloadTooLarge,
    TlsFailure,
    UntrustedServer,
)
from fiscalmix_agent.trust import HostPolicy, ServerVerifier

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"FiscalMix-Agent/{__version__}"
MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
TLS_1_2: Final = (3, 3)
# Hashes offered for the CertificateVerify, by preference; PKCS#1 v1.5 only (see the module doc).
SIGNATURE_HASHES: Final = ["sha256", "sha384", "sha512", "sha1"]


class DigestInfoSigner(Protocol):
    """Signs a PKCS#1 DigestInfo with the key of ``certificate``: the token signer."""

    @property
    def certificate(self) -> x509.Certificate:
        """The client certificate presented in the handshake."""
        ...

    def sign_digest_info(self, encoded: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 over ``encoded``."""
        ...


class TokenRSAKey(Python_RSAKey):  # type: ignore[misc]  # tlslite-ng is untyped
    """The tlslite RSA key of the client certificate, whose signing happens on the token.

    Only the public half lives here (tlslite verifies its own CertificateVerify with it); ``sign``
    is the one private operation a TLS 1.2 client performs, and it goes to the token.
    """

    def __init__(self, signer: DigestInfoSigner) -> None:
        public = signer.certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise TlsFailure("the client certificate's key is not RSA; the agent supports RSA tokens only")
        numbers = public.public_numbers()
        super().__init__(numbers.n, numbers.e)
        self._signer = signer

    def hasPrivateKey(self) -> bool:
        """The token holds it: tlslite may ask for signatures."""
        return True

    def sign(
        self, data: bytearray, padding: str = "pkcs1", hashAlg: str | None = None, saltLen: int | None = None
    ) -> bytearray:
        """Sign a DigestInfo (tlslite builds it for TLS 1.2 PKCS#1 signatures) on the token.

        tlslite passes the arguments by position; ``hashAlg`` set means ``data`` is a bare hash.
        """
        if padding.lower() != "pkcs1":
            raise TLSError(f"the token signs PKCS#1 v1.5 only, not {padding}")
        encoded = self.addPKCS1Prefix(data, hashAlg) if hashAlg is not None else data
        return bytearray(self._signer.sign_digest_info(bytes(encoded)))

    def _rawPrivateKeyOp(self, message: int) -> int:
        # Only RSA key exchange on a server decrypts with the private key; a client never does.
        raise TLSError("raw RSA with the token's key is refused; only signatures are delegated")


class _VerifyingConnection(TLSConnection):  # type: ignore[misc]  # tlslite-ng is untyped
    """A TLSConnection that verifies the server's chain as soon as it arrives.

    tlslite calls ``checker`` only after the handshake, when the token would already have signed
    a CertificateVerify for an unverified server; ``_clientGetKeyFromChain`` runs on the server's
    Certificate message, before the client's key is used, so the check lives there.

    tlslite's ``makefile`` hands ``http.client`` an unbuffered reader, whose short reads
    ``http.client`` takes for a truncated body; this one is buffered.
    """

    def __init__(self, sock: socket.socket, verify: Callable[[list[bytes]], object]) -> None:
        super().__init__(sock)
        self._verify_chain = verify
        self.refusal: UntrustedServer | None = None

    def _clientGetKeyFromChain(self, certificate: Any, settings: Any, tack_ext: Any = None) -> Iterator[Any]:
        for result in super()._clientGetKeyFromChain(certificate, settings, tack_ext):
            if result in (0, 1):  # tlslite's "would block on read/write"
                yield result
                continue
            try:
                self._verify_chain([bytes(cert.bytes) for cert in result[1].x509List])
            except UntrustedServer as exc:
                self.refusal = exc
                yield from self._sendError(AlertDescription.bad_certificate, exc.message)
            yield result

    def makefile(self, mode: str = "r", bufsize: int = -1) -> Any:
        """A buffered reader (see the class doc); writers as tlslite makes them."""
        if "w" in mode:
            return super().makefile(mode, bufsize)
        self._refCount += 1  # tlslite closes the socket when the last file is closed
        return io.BufferedReader(socket.SocketIO(self, mode))  # type: ignore[arg-type]

    def recv_into(self, b: Any) -> int:
        """tlslite answers None at the end of the stream; io expects 0."""
        return int(super().recv_into(b) or 0)


@dataclass(frozen=True)
class Timeouts:
    """Seconds for TCP connect plus TLS handshake, and for each read of the answer."""

    connect: float = 10.0
    read: float = 60.0


@dataclass(frozen=True)
class HttpResponse:
    """What came back; header names are lower case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class _TokenHttpsConnection(http.client.HTTPConnection):
    """``http.client`` over the token-backed TLS connection."""

    def __init__(
        self, host: str, port: int, timeout: float, wrap: Callable[[socket.socket, str], Any]
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._wrap = wrap

    def connect(self) -> None:
        """TCP, then the TLS handshake with the token's key."""
        super().connect()
        self.sock = self._wrap(self.sock, self.host)


class TokenHttpsTransport:
    """HTTPS with mutual TLS on the token: ``post``/``get`` as ``fiscal_core``'s Transport protocol."""

    def __init__(
        self,
        signer: DigestInfoSigner,
        verifier: ServerVerifier,
        *,
        hosts: HostPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._signer = signer
        self._verifier = verifier
        self._hosts = hosts or HostPolicy()
        self._timeouts = timeouts or Timeouts()
        leaf = X509()
        leaf.parseBinary(bytearray(signer.certificate.public_bytes(serialization.Encoding.DER)))
        self._chain = X509CertChain([leaf])
        self._key = TokenRSAKey(signer)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """POST ``body`` to ``url`` over mutual TLS."""
        return self.request("POST", url, body, headers)

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """GET ``url`` over mutual TLS."""
        return self.request("GET", url, None, headers)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        read_timeout: float | None = None,
    ) -> HttpResponse:
        """One exchange; raises a SefazExchangeError subclass (or a TokenError) when no answer came."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise BadRequest(f"only https:// URLs are relayed (mutual TLS), got {url!r}")
        self._hosts.check(parts.hostname)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = _TokenHttpsConnection(
            parts.hostname, parts.port or 443, self._timeouts.connect, self._handshake
        )
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(read_timeout or self._timeouts.read)
            sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
            connection.request(method, target, body=body, headers=sent)
            response = connection.getresponse()
            content = response.read(MAX_RESPONSE_BYTES + 1)
            if len(content) > MAX_RESPONSE_BYTES:
                raise PayloadTooLarge(f"{url}: the answer exceeds {MAX_RESPONSE_BYTES} bytes; refused")
            received = {name.lower(): value for name, value in response.getheaders()}
            return HttpResponse(status=response.status, headers=received, body=content)
        except AgentError:
            raise
        except (TLSError, TimeoutError, OSError, http.client.HTTPException) as exc:
            raise _exchange_error(url, exc) from exc
        finally:
            connection.close()

    def _handshake(self, sock: socket.socket, host: str) -> _VerifyingConnection:
        connection = _VerifyingConnection(sock, lambda chain: self._verifier.verify(chain, host))
        settings = HandshakeSettings()
        settings.minVersion = settings.maxVersion = TLS_1_2
        settings.rsaSchemes = ["pkcs1"]
        settings.rsaSigHashes = list(SIGNATURE_HASHES)
        server_name = None if _is_ip(host) else host  # SNI carries names only
        try:
            connection.handshakeClientCert(self._chain, self._key, settings=settings, serverName=server_name)
        except TLSError as exc:
            if connection.refusal is not None:
                raise connection.refusal from exc
            raise
        logger.debug("TLS %s with %s (%s)", connection.version, host, connection.getCipherName())
        return connection


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _exchange_error(url: str, exc: BaseException) -> AgentError:
    """The domain error for a failed exchange."""
    if isinstance(exc, TimeoutError):
        return ExchangeTimeout(f"{url}: the server did not answer in time")
    if isinstance(exc, TLSRemoteAlert):
        return TlsFailure(
            f"{url}: the server ended the handshake ({exc}); it may refuse the company's "
            "certificate (expired, revoked or not ICP-Brasil)"
        )
    if isinstance(exc, TLSAbruptCloseError):
        return ConnectionFailed(
            f"{url}: the connection closed during TLS: a network cut, or the server refused the certificate"
        )
    if isinstance(exc, TLSError):
        return TlsFailure(f"{url}: TLS failed ({exc})")
    return ConnectionFailed(f"{url}: {type(exc).__name__}: {exc}")
