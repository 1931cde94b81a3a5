"""What can go wrong talking to SEFAZ and the ADN, as domain errors that say whether to retry.

A rejection with a cStat is not an error here: it is an answer, returned with its classification
(:mod:`fiscal_core.sefaz.cstat`). These exceptions are for exchanges that produced no usable answer:
the network failed, TLS failed, the server faulted, or what came back cannot be read. ``retryable``
is the one flag :func:`fiscal_core.sefaz.retry.with_retries` looks at.
"""

from __future__ import annotations

from fiscal_core.errors import DocumentError, FiscalMixError


class SefazError(FiscalMixError):
    """Base of the exchange errors; ``retryable`` says whether the same call may succeed later."""

    retryable: bool = False


class TransportError(SefazError):
    """The HTTPS exchange itself failed; ``url`` names the endpoint."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url


class ConnectionFailed(TransportError):
    """No connection, or it dropped mid-exchange: DNS, refused, reset, truncated body."""

    retryable = True


class Timeout(TransportError):
    """The connect or read timeout expired."""

    retryable = True


class TlsFailure(TransportError):
    """The TLS handshake failed: untrusted server, client certificate refused, no common cipher.

    Not retried: the same certificates and trust store fail the same way until someone changes them.
    """


class HttpStatusError(TransportError):
    """An HTTP status the service does not answer with on success; 5xx is retried, 4xx is not."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        super().__init__(url, f"HTTP {status}: {detail}")
        self.status = status
        self.retryable = status >= 500


class SoapFault(SefazError):
    """The server answered with a SOAP Fault: the request was refused before any cStat.

    Not retried: a fault is the server's verdict on this request (malformed envelope, unknown
    action), which resending does not change.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"SOAP fault {code}: {reason}")
        self.code = code
        self.reason = reason


class MalformedResponse(SefazError, DocumentError):
    """The answer cannot be read: not XML/JSON, truncated, or missing what the layout requires."""


class RequestRejectedLocally(SefazError):
    """A request FiscalMix built breaks its official schema: a bug on our side, caught before sending.

    Sending it would only earn cStat 215 (and, for consNSU/consChNFe, spend the hourly quota).
    """
