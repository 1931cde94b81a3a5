"""The A3 token through PKCS#11 (python-pkcs11): find it, log in once, list and use its certificates.

One :class:`TokenSession` per agent. The PIN is asked once, through the ``pin_provider`` the
caller gives, and kept in this object's memory only, so that a token pulled out and plugged back
in is logged in again without asking; a PIN the token refuses is forgotten at once, because
retrying it would only bring the token closer to locking itself.

PKCS#11 sessions are not safe across threads, so every token operation holds one lock. An
operation that finds the session dead (see :data:`fiscalmix_agent.token_errors.REOPEN_ON`) reopens the
token once, by its serial number, and tries again; when the token is not there it fails with
:class:`TokenRemoved`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

import pkcs11
import pkcs11.exceptions as ckr
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, CertificateType, Mechanism, ObjectClass, TokenFlag

from fiscalmix_agent.certinfo import CertificateInfo
from fiscalmix_agent.errors import CertificateNotFound, ModuleNotFound, NoToken, TokenError, TokenRemoved
from fiscalmix_agent.modules import FoundModule, configured_module, describe_candidates, discover_modules
from fiscalmix_agent.token_errors import REMOVED_MESSAGE, REOPEN_ON, translate

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Library

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
PinProvider = Callable[["TokenDescription"], str]

# The RSA mechanisms the agent signs with, by preference; see fiscalmix_agent.signer.
SIGNING_MECHANISMS: Final = frozenset(
    {
        Mechanism.SHA1_RSA_PKCS,
        Mechanism.SHA256_RSA_PKCS,
        Mechanism.SHA384_RSA_PKCS,
        Mechanism.SHA512_RSA_PKCS,
        Mechanism.RSA_PKCS,
        Mechanism.RSA_X_509,
    }
)


@dataclass(frozen=True)
class TokenDescription:
    """Which token, in which reader, through which module."""

    label: str
    serial: str
    manufacturer: str
    model: str
    module: FoundModule

    def to_json(self) -> dict[str, str]:
        """The ``token`` entry of ``hello`` (PROTOCOL.md)."""
        return {
            "label": self.label,
            "serial": self.serial,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "module": self.module.path,
            "vendor": self.module.vendor,
        }


@dataclass(frozen=True)
class TokenCertificate:
    """A certificate on the token and the CKA_ID of the private key that goes with it."""

    certificate: x509.Certificate
    info: CertificateInfo
    label: str
    # The CKA_ID of the matching private key; b"" for a key without ID (found by modulus), None
    # when no private key on the token matches the certificate.
    key_id: bytes | None

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA public key; A3 e-CNPJ keys are RSA."""
        key = self.certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise CertificateNotFound(f"the certificate {self.info.subject} has no RSA key; it cannot sign")
        return key


@dataclass
class _Open:
    """The live state of an open token: the library, the token, the logged-in session, and what
    was read once at login: its mechanisms and certificates (they do not change while it is in)."""

    library: Library
    token: pkcs11.Token
    session: pkcs11.Session
    mechanisms: set[Mechanism] = field(default_factory=set)
    certificates: list[TokenCertificate] = field(default_factory=list)


def _text(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value).strip()


def _load(module: FoundModule) -> Library:
    try:
        return pkcs11.lib(module.path)
    except ckr.PKCS11Error as exc:
        raise ModuleNotFound(
            f"The token driver {module.path} ({module.vendor}) could not be loaded: {exc}. Reinstall "
            "the token's driver, or give another module with --module."
        ) from exc


def _initialized_tokens(library: Library) -> list[pkcs11.Token]:
    # SoftHSM and some readers list an empty slot as holding an uninitialized token.
    tokens = [slot.get_token() for slot in library.get_slots(token_present=True)]
    return [token for token in tokens if token.flags & TokenFlag.TOKEN_INITIALIZED]


def _describe(token: pkcs11.Token, module: FoundModule) -> TokenDescription:
    return TokenDescription(
        label=token.label.strip(),
        serial=_text(token.serial),
        manufacturer=token.manufacturer_id.strip(),
        model=token.model.strip(),
        module=module,
    )


class TokenSession:
    """The agent's one token: opened by :meth:`open`, used by signers, reopened when it comes back.

    ``module`` is a path to a PKCS#11 module, or None to find the installed token driver;
    ``label`` and ``serial`` choose among several tokens.
    """

    def __init__(self, module: str | None = None, *, label: str | None = None, serial: str | None = None):
        self._module_path = module
        self._label = label
        self._serial = serial
        self._lock = threading.RLock()
        self._pin: str | None = None
        self._protected_path = False
        self._open: _Open | None = None
        self._description: TokenDescription | None = None

    def __repr__(self) -> str:
        state = "open" if self._open is not None else "closed"
        return f"TokenSession(module={self._module_path!r}, label={self._label!r}, {state})"

    @property
    def description(self) -> TokenDescription:
        """The token found by :meth:`find` or :meth:`open`."""
        if self._description is None:
            raise NoToken("the token was not looked for yet; call open() first")
        return self._description

    @property
    def is_open(self) -> bool:
        """Whether a logged-in session is live right now (False after the token was pulled out)."""
        return self._open is not None

    def find(self) -> TokenDescription:
        """Load the module and find the one token to use, without logging in."""
        with self._lock:
            module, _, token = self._locate()
            self._description = _describe(token, module)
            return self._description

    def open(self, pin_provider: PinProvider) -> TokenDescription:
        """Find the token and log in, asking ``pin_provider`` for the PIN unless the reader has a pin pad."""
        with self._lock:
            module, library, token = self._locate()
            self._description = _describe(token, module)
            self._protected_path = bool(token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH)
            if not self._protected_path:
                self._pin = pin_provider(self._description)
            self._open = self._login(library, token)
            logger.info(
                "token %s (%s) open through %s", self._description.label, self._description.model, module.path
            )
            return self._description

    def close(self) -> None:
        """Log out and close the session; the PIN is forgotten."""
        with self._lock:
            self._pin = None
            self._protected_path = False
            if self._open is not None:
                try:
                    self._open.session.close()
                except ckr.PKCS11Error:
                    logger.debug("closing a dead session failed", exc_info=True)
                self._open = None

    def ensure_open(self) -> bool:
        """Whether the token is ready, reopening it (with the PIN in memory) if it went away."""
        with self._lock:
            if self._open is not None:
                try:
                    self._open.token.slot.get_token()  # C_GetTokenInfo fails once the token is out
                except ckr.PKCS11Error as exc:
                    logger.warning("the token stopped answering (%s)", type(exc).__name__)
                    self._open = None
            if self._open is None and self._description is not None:
                try:
                    self._reopen()
                except TokenError as exc:
                    logger.info("token not ready: %s", exc.message)
            return self._open is not None

    def certificates(self, *, with_key_only: bool = True) -> list[TokenCertificate]:
        """The end-entity certificates on the token, paired with their private keys' CKA_ID.

        Before login (``find`` only) private keys are invisible, so ``with_key_only=False`` is the
        way to list what a token holds without its PIN.
        """
        if self._open is not None or self._pin is not None or self._protected_path:
            # Logged in (or able to log in again): run() reopens a token that was pulled out.
            listed = self.run(lambda _: list(self._state().certificates))
        else:
            listed = self._list_without_login()
        return [cert for cert in listed if cert.key_id is not None or not with_key_only]

    def certificate(self, fingerprint: str | None) -> TokenCertificate:
        """The usable certificate with this SHA-256 fingerprint (hex), or the only one when None."""
        usable = self.certificates()
        if fingerprint is not None:
            wanted = fingerprint.lower().replace(":", "")
            for candidate in usable:
                if candidate.info.fingerprint_sha256 == wanted:
                    return candidate
            raise CertificateNotFound(
                f"The certificate {fingerprint} is not on the token {self.description.label}. Plug in "
                "the token that holds it, or pair this agent again for the certificate it holds."
            )
        if len(usable) != 1:
            found = "no certificate with its private key" if not usable else f"{len(usable)} certificates"
            raise CertificateNotFound(
                f"The token {self.description.label} holds {found}; the request must name the "
                "certificate to use by its SHA-256 fingerprint."
            )
        return usable[0]

    def mechanisms(self) -> frozenset[Mechanism]:
        """The signing mechanisms the token offers (among those the agent knows how to use)."""
        return self.run(lambda _: frozenset(self._state().mechanisms & SIGNING_MECHANISMS))

    def forget_mechanism(self, mechanism: Mechanism) -> None:
        """Stop using a mechanism the token listed but refused (CKR_MECHANISM_INVALID)."""
        with self._lock:
            if self._open is not None:
                self._open.mechanisms.discard(mechanism)

    def run(self, operation: Callable[[pkcs11.Session], _T]) -> _T:
        """Run ``operation`` on the logged-in session, reopening the token once if it died."""
        with self._lock:
            for attempt in (1, 2):
                state = self._open or self._reopen()
                try:
                    return operation(state.session)
                except REOPEN_ON as exc:
                    logger.warning("token session lost (%s); reopening the token", type(exc).__name__)
                    self._open = None
                    if attempt == 2:
                        raise self._translate(exc) from exc
                except ckr.PKCS11Error as exc:
                    raise self._translate(exc) from exc
            raise AssertionError("unreachable: the loop returns or raises")

    def _state(self) -> _Open:
        if self._open is None:
            raise TokenRemoved(REMOVED_MESSAGE.format(token=self.description.label))
        return self._open

    def _translate(self, error: ckr.PKCS11Error) -> TokenError:
        label = self._description.label if self._description else "(unknown)"
        return translate(error, label)

    def _modules(self) -> list[FoundModule]:
        if self._module_path is not None:
            return [configured_module(self._module_path)]
        return discover_modules()

    def _locate(self) -> tuple[FoundModule, Library, pkcs11.Token]:
        """The one token matching the configured label/serial, across the modules to try."""
        modules = self._modules()
        found: list[tuple[FoundModule, Library, pkcs11.Token]] = []
        failures: list[ModuleNotFound] = []
        for module in modules:
            try:
                library = _load(module)
            except ModuleNotFound as exc:
                failures.append(exc)
                continue
            found += [(module, library, token) for token in self._matching(library)]
        if not found:
            if failures and len(failures) == len(modules):
                raise failures[0]
            wanted = f" labelled {self._label!r}" if self._label else ""
            wanted += f" with serial {self._serial!r}" if self._serial else ""
            raise NoToken(
                f"No token{wanted} is plugged in. Plug it in (check that its light is on) and try "
                f"again. Drivers looked at: {describe_candidates(modules)}."
            )
        if len(found) > 1:
            names = ", ".join(f"{_describe(t, m).label} (serial {_text(t.serial)})" for m, _, t in found)
            raise NoToken(
                f"Several tokens are plugged in: {names}. Choose one with --token-label or --token-serial."
            )
        return found[0]

    def _matching(self, library: Library) -> list[pkcs11.Token]:
        try:
            tokens = _initialized_tokens(library)
        except ckr.PKCS11Error as exc:
            logger.warning("listing the tokens of %s failed: %r", library, exc)
            return []
        return [
            token
            for token in tokens
            if (self._label is None or token.label.strip() == self._label)
            and (self._serial is None or _text(token.serial) == self._serial)
        ]

    def _login(self, library: Library, token: pkcs11.Token) -> _Open:
        pin: object = pkcs11.PROTECTED_AUTH if self._protected_path else self._pin
        try:
            try:
                session = token.open(user_pin=pin)
            except ckr.UserAlreadyLoggedIn:
                session = token.open()  # login is per application: another session already did it
            mechanisms = set(token.slot.get_mechanisms())
            certificates = _list_certificates(session)
        except (ckr.PinIncorrect, ckr.PinInvalid, ckr.PinLenRange, ckr.PinLocked, ckr.PinExpired) as exc:
            self._pin = None  # never try a refused PIN again
            raise self._pin_error(exc, token) from exc
        except ckr.PKCS11Error as exc:
            raise self._translate(exc) from exc
        return _Open(library, token, session, mechanisms, certificates)

    def _pin_error(self, exc: ckr.PKCS11Error, token: pkcs11.Token) -> TokenError:
        error = self._translate(exc)
        try:
            flags = token.slot.get_token().flags
        except ckr.PKCS11Error:
            return error
        if flags & TokenFlag.USER_PIN_FINAL_TRY:
            error.message += " Careful: one more wrong PIN locks the token."
        elif flags & TokenFlag.USER_PIN_COUNT_LOW:
            error.message += " The token has few PIN attempts left."
        error.args = (error.message,)
        return error

    def _reopen(self) -> _Open:
        """Reload the module's view of the readers and log in to the same token (by serial) again."""
        description = self.description
        if self._pin is None and not self._protected_path:
            raise TokenRemoved(
                f"The token {description.label} needs its PIN again; restart the agent to enter it."
            )
        library = _load(description.module)
        try:
            # Some modules (SoftHSM among them) see a token plugged back in only after re-initializing.
            library.reinitialize()
            tokens = [t for t in _initialized_tokens(library) if _text(t.serial) == description.serial]
        except ckr.PKCS11Error as exc:
            raise TokenRemoved(REMOVED_MESSAGE.format(token=description.label)) from exc
        if not tokens:
            raise TokenRemoved(REMOVED_MESSAGE.format(token=description.label))
        self._open = self._login(library, tokens[0])
        logger.info("token %s is back; logged in again", description.label)
        return self._open

    def _list_without_login(self) -> list[TokenCertificate]:
        with self._lock:
            _, _, token = self._locate()
            try:
                with token.open() as session:
                    return _list_certificates(session)
            except ckr.PKCS11Error as exc:
                raise self._translate(exc) from exc


def _attribute(obj: pkcs11.Object, attribute: Attribute, default: _T) -> _T:
    try:
        value: _T = obj[attribute]
    except (ckr.AttributeTypeInvalid, ckr.AttributeSensitive):
        return default
    return value


def _list_certificates(session: pkcs11.Session) -> list[TokenCertificate]:
    """End-entity X.509 certificates, each with the CKA_ID of its private key when one matches.

    Keys are matched by CKA_ID as PKCS#11 intends, and by modulus for tokens whose tools left the
    IDs of a certificate and its key different.
    """
    keys = [
        (bytes(_attribute(key, Attribute.ID, b"")), _attribute(key, Attribute.MODULUS, b""))
        for key in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
    ]
    listed = []
    for obj in session.get_objects(
        {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509}
    ):
        try:
            certificate = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
        except ValueError:
            logger.warning("skipping an unreadable certificate object on the token")
            continue
        if _is_ca(certificate):
            continue  # tokens often carry the issuing chain too
        cert_id = bytes(_attribute(obj, Attribute.ID, b""))
        public = certificate.public_key()
        modulus = public.public_numbers().n if isinstance(public, rsa.RSAPublicKey) else None
        key_id = next((kid for kid, _ in keys if kid and kid == cert_id), None)
        if key_id is None and modulus is not None:
            key_id = next((kid for kid, mod in keys if mod and int.from_bytes(mod, "big") == modulus), None)
        listed.append(
            TokenCertificate(
                certificate,
                CertificateInfo.of(certificate),
                str(_attribute(obj, Attribute.LABEL, "")),
                key_id,
            )
        )
    return listed


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
