"""PKCS#11 return values, translated into what the person at the token should do.

A table from python-pkcs11's exception classes (one per CKR_* code) to the agent's domain errors
and their messages; ``{token}`` is the token's label. :data:`LOST` lists the codes that mean the
session died under us: a token pulled out (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT), sessions or
handles gone with it (SoftHSM answers CKR_OBJECT_HANDLE_INVALID when its token vanishes), or a
driver that only says CKR_GENERAL_ERROR / CKR_DEVICE_ERROR. Those are worth one reopen before
the request fails. So is CKR's "no such key" for a key found a moment ago: SoftHSM, for one,
answers an empty search once its token is gone.
"""

from __future__ import annotations

from typing import Final

import pkcs11.exceptions as ckr

from fiscalmix_agent.errors import (
    CertificateNotFound,
    PinExpired,
    SigningFailed,
    TokenError,
    TokenLocked,
    TokenRemoved,
    WrongPin,
)

REMOVED_MESSAGE: Final = (
    "The token {token} was removed or stopped answering. Plug it back in: the agent uses it again "
    "on the next request, without asking for the PIN."
)
WRONG_PIN_MESSAGE: Final = (
    "The token {token} refused the PIN. Check it (and Caps Lock) and start the agent again; each "
    "wrong PIN brings the token closer to locking itself."
)

LOST: Final[tuple[type[ckr.PKCS11Error], ...]] = (
    ckr.DeviceRemoved,
    ckr.TokenNotPresent,
    ckr.TokenNotRecognised,
    ckr.SessionHandleInvalid,
    ckr.SessionClosed,
    ckr.ObjectHandleInvalid,
    ckr.KeyHandleInvalid,
    ckr.DeviceError,
    ckr.GeneralError,
)

_TABLE: Final[dict[type[ckr.PKCS11Error], tuple[type[TokenError], str]]] = {
    ckr.PinIncorrect: (WrongPin, WRONG_PIN_MESSAGE),
    ckr.PinInvalid: (WrongPin, WRONG_PIN_MESSAGE),
    ckr.PinLenRange: (WrongPin, WRONG_PIN_MESSAGE),
    ckr.PinLocked: (
        TokenLocked,
        "The token {token} is locked after too many wrong PINs. Unlock it with its PUK "
        "(administrator PIN) in the token's manager (SafeNet Authentication Client, SafeSign Token "
        "Admin...) or ask the certificate's issuer, then start the agent again. The agent will not "
        "try any PIN on a locked token.",
    ),
    ckr.PinExpired: (
        PinExpired,
        "The PIN of the token {token} expired. Set a new one in the token's manager, then start "
        "the agent again.",
    ),
    ckr.UserNotLoggedIn: (
        TokenRemoved,
        "The token {token} forgot the login (it was unplugged or reset). Plug it in again; the "
        "agent logs in again on the next request.",
    ),
    ckr.NoSuchKey: (
        CertificateNotFound,
        "The private key of the certificate is no longer on the token {token}. Plug in the token "
        "that holds it, or pair this agent again for the certificate now on the token.",
    ),
    **dict.fromkeys(LOST, (TokenRemoved, REMOVED_MESSAGE)),
}
# Worth reopening the token once for: a dead session, or a key that vanished with its token.
REOPEN_ON: Final[tuple[type[ckr.PKCS11Error], ...]] = (*LOST, ckr.NoSuchKey)


def translate(error: ckr.PKCS11Error, token: str) -> TokenError:
    """The domain error for a PKCS#11 failure on the token labelled ``token``."""
    for kind in type(error).__mro__:
        if kind in _TABLE:
            domain, message = _TABLE[kind]
            return domain(message.format(token=token))
    name = type(error).__name__
    return SigningFailed(
        f"The token {token} failed ({name}{': ' + str(error) if str(error) else ''}). Unplug it, "
        "plug it in again and retry; if it keeps failing, check it in the token's manager."
    )
