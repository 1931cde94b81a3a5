"""The agent's failures, each with a stable ``code`` the cloud can act on and a message a person can.

The message says what happened and what to do next; the code travels in the ``error`` of a
``response`` (see PROTOCOL.md), with ``retryable`` telling the cloud whether asking again later may
work (a token plugged back in, a network back up) or needs a person first (a wrong or locked PIN).
"""

from __future__ import annotations

from typing import ClassVar


class AgentError(Exception):
    """Base of every failure the agent explains; never carries a PIN or a credential."""

    code: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(AgentError):
    """The agent is not configured (not paired) or its configuration file is unusable."""

    code = "not_configured"


class BadRequest(AgentError):
    """A message from the cloud is malformed or asks for something the agent refuses to do."""

    code = "bad_request"


class PayloadTooLarge(AgentError):
    """An answer does not fit in a WebSocket message and the request gave no upload URL."""

    code = "payload_too_large"


class TransferFailed(AgentError):
    """A presigned URL could not be downloaded from or uploaded to."""

    code = "transfer_failed"
    retryable = True


# The token (PKCS#11).


class TokenError(AgentError):
    """A PKCS#11 failure: the module, the token, the PIN or a signature."""

    code = "token_error"


class ModuleNotFound(TokenError):
    """No PKCS#11 module (the token's driver) could be found or loaded."""

    code = "no_module"


class NoToken(TokenError):
    """The module is loaded but no token is plugged in (or none matches the configured one)."""

    code = "no_token"
    retryable = True


class WrongPin(TokenError):
    """The token refused the PIN (CKR_PIN_INCORRECT)."""

    code = "wrong_pin"


class TokenLocked(TokenError):
    """Too many wrong PINs: the token refuses any login (CKR_PIN_LOCKED)."""

    code = "token_locked"


class PinExpired(TokenError):
    """The token demands a new PIN before it signs again (CKR_PIN_EXPIRED)."""

    code = "pin_expired"


class TokenRemoved(TokenError):
    """The token was pulled out or stopped answering in the middle of the run."""

    code = "token_removed"
    retryable = True


class CertificateNotFound(TokenError):
    """The requested certificate (or any usable one) is not on the token."""

    code = "certificate_not_found"


class SigningFailed(TokenError):
    """The token answered but produced no valid signature."""

    code = "signing_failed"


# The HTTPS exchange with SEFAZ.


class SefazExchangeError(AgentError):
    """The HTTPS exchange with SEFAZ produced no answer."""

    code = "exchange_failed"
    retryable = True


class HostNotAllowed(SefazExchangeError):
    """The URL is outside the hosts the agent may present the company's certificate to."""

    code = "host_not_allowed"
    retryable = False


class ConnectionFailed(SefazExchangeError):
    """TCP could not connect, or the connection broke."""

    code = "connection_failed"


class ExchangeTimeout(SefazExchangeError):
    """The server did not answer in time."""

    code = "timeout"


class TlsFailure(SefazExchangeError):
    """The TLS handshake failed: a refused certificate, no common cipher, an alert."""

    code = "tls_failed"


class UntrustedServer(SefazExchangeError):
    """The server's certificate does not chain to the configured CA bundle or names another host."""

    code = "untrusted_server"
    retryable = False


# The bridge.


class AuthenticationRefused(AgentError):
    """The bridge refused the agent's credential: revoked, or never paired."""

    code = "authentication_refused"


class PairingFailed(AgentError):
    """Pairing did not complete: the code expired, or the bridge refused it."""

    code = "pairing_failed"
