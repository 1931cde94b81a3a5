"""The HTTPS edge: one Protocol every exchange goes through, and its mutual-TLS implementation.

Exchanges build an :class:`HttpRequest` and read an :class:`HttpResponse`; only a
:class:`Transport` moves bytes. Tests pass a fake, the A3 agent relays the same request through the
token-holding machine, and Lambda uses :class:`HttpsTransport`, built on ``http.client`` and
``ssl`` so the layer needs no HTTP library of its own.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Protocol
from urllib.parse import urlsplit

from fiscal_core.sefaz.errors import ConnectionFailed, MalformedResponse, Timeout, TlsFailure, TransportError
from fiscal_core.sefaz.tls import ClientIdentity, TlsSettings, client_context

USER_AGENT: Final = "FiscalMix/1 (+https://fiscalmix.invalid)"
MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024


@dataclass(frozen=True)
class HttpRequest:
    """A request ready to send: what the A3 agent receives to relay."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    """What came back; header names are lower case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


class Transport(Protocol):
    """Moves one request and returns the response for any HTTP status.

    Raises :class:`fiscal_core.sefaz.errors.TransportError` (or a subclass) when there is no
    response: connection failures, timeouts, TLS failures.
    """

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """POST ``body`` to ``url``."""
        ...

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """GET ``url``."""
        ...


def send(transport: Transport, request: HttpRequest) -> HttpResponse:
    """Send a prepared request through ``transport``."""
    if request.method == "POST":
        return transport.post(request.url, request.body, request.headers)
    if request.method == "GET":
        return transport.get(request.url, request.headers)
    raise ValueError(f"unsupported method {request.method}")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect (TCP and TLS handshake) and to wait for each read.

    SEFAZ can take tens of seconds on a 50-document page, hence the generous read timeout.
    """

    connect: float = 10.0
    read: float = 60.0


class HttpsTransport:
    """HTTPS with mutual TLS: the company's certificate, the configured trust store, TLS 1.2+.

    One connection per request: a sync run makes a few calls seconds apart, and a fresh connection
    never meets a keep-alive the server already dropped. The TLS contexts (one per cipher policy)
    are built on first use and reused, so the key is loaded once per transport.
    """

    def __init__(self, identity: ClientIdentity, tls: TlsSettings, timeouts: Timeouts = Timeouts()) -> None:
        self._identity = identity
        self._tls = tls
        self._timeouts = timeouts
        self._contexts: dict[bool, ssl.SSLContext] = {}

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """POST ``body`` to ``url`` over mutual TLS."""
        return self._exchange("POST", url, body, headers)

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """GET ``url`` over mutual TLS."""
        return self._exchange("GET", url, None, headers)

    def _context(self, host: str) -> ssl.SSLContext:
        legacy = host in self._tls.legacy_hosts
        if legacy not in self._contexts:
            self._contexts[legacy] = client_context(self._identity, self._tls, legacy_ciphers=legacy)
        return self._contexts[legacy]

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> HttpResponse:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise TransportError(url, "only https:// URLs are allowed: the exchange needs mutual TLS")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, context=self._context(parts.hostname), timeout=self._timeouts.connect
        )
        try:
            connection.connect()  # TCP and the TLS handshake, under the connect timeout
            assert connection.sock is not None
            connection.sock.settimeout(self._timeouts.read)
            all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
            connection.request(method, target or "/", body=body, headers=all_headers)
            response = connection.getresponse()
            content = response.read(MAX_RESPONSE_BYTES + 1)
            if len(content) > MAX_RESPONSE_BYTES:
                raise MalformedResponse(f"{url}: the answer exceeds {MAX_RESPONSE_BYTES} bytes; refused")
            received = MappingProxyType({name.lower(): value for name, value in response.getheaders()})
            return HttpResponse(status=response.status, headers=received, body=content)
        except (TimeoutError, ssl.SSLError, OSError, http.client.HTTPException) as exc:
            raise _transport_error(url, exc) from exc
        finally:
            connection.close()


def _transport_error(url: str, exc: BaseException) -> TransportError:
    """The domain error for a failed exchange; the order matters, the ssl errors are OSErrors."""
    if isinstance(exc, TimeoutError):
        return Timeout(url, "the server did not answer in time")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TlsFailure(
            url,
            f"the server's certificate is not trusted ({exc.verify_message}); check the CA bundle "
            "configured for this environment",
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        # Also how a TLS 1.3 server's refusal of the client certificate can look from here.
        return ConnectionFailed(
            url,
            f"the connection closed during TLS ({exc}): a network cut, or the server refused the certificate",
        )
    if isinstance(exc, ssl.SSLError):
        return TlsFailure(
            url,
            f"TLS failed ({exc.reason or exc}); the server may have refused the company's "
            "certificate (expired, revoked or not ICP-Brasil)",
        )
    return ConnectionFailed(url, f"{type(exc).__name__}: {exc}")
