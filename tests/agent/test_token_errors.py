"""PIN and removal failures SoftHSM cannot produce (it never locks): a fake PKCS#11 library raising
the CKR_* codes real tokens answer, and the table that explains each."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
import pkcs11.exceptions as ckr
import pytest
from pkcs11 import TokenFlag

from fiscalmix_agent.errors import PinExpired, SigningFailed, TokenLocked, TokenRemoved, WrongPin
from fiscalmix_agent.token import TokenDescription, TokenSession
from fiscalmix_agent.token_errors import translate


@dataclass
class FakeToken:
    """A token whose login fails with ``error`` and then reports ``flags_after``."""

    error: ckr.PKCS11Error
    flags_after: TokenFlag = field(default_factory=lambda: TokenFlag(0))
    label: str = "eToken"
    serial: bytes = b"0A1B2C"
    manufacturer_id: str = "SafeNet, Inc."
    model: str = "eToken"
    failed: bool = False
    slot: FakeSlot = field(init=False)

    @property
    def flags(self) -> TokenFlag:
        base = TokenFlag.TOKEN_INITIALIZED | TokenFlag.LOGIN_REQUIRED
        return base | self.flags_after if self.failed else base

    def open(self, user_pin: object = None) -> None:
        self.failed = True
        raise self.error


@dataclass
class FakeSlot:
    token: FakeToken

    def get_token(self) -> FakeToken:
        return self.token


@dataclass
class FakeLibrary:
    token: FakeToken

    def get_slots(self, token_present: bool = False) -> list[FakeSlot]:
        return [self.token.slot]


def login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, token: FakeToken) -> Exception:
    token.slot = FakeSlot(token)
    module = tmp_path / "libeTPkcs11.so"
    module.write_bytes(b"")
    monkeypatch.setattr(pkcs11, "lib", lambda path: FakeLibrary(token))
    asked: list[str] = []

    def pin(description: TokenDescription) -> str:
        asked.append(description.label)
        return "1234"

    session = TokenSession(str(module))
    with pytest.raises(Exception) as failed:
        session.open(pin)
    assert asked == ["eToken"]
    assert not session.ensure_open()  # the refused PIN is not kept for another try
    return failed.value


def test_a_locked_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    error = login(monkeypatch, tmp_path, FakeToken(ckr.PinLocked()))
    assert isinstance(error, TokenLocked)
    assert "locked after too many wrong PINs" in error.message and "PUK" in error.message
    assert error.code == "token_locked" and not error.retryable


def test_the_last_try_is_announced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    error = login(monkeypatch, tmp_path, FakeToken(ckr.PinIncorrect(), TokenFlag.USER_PIN_FINAL_TRY))
    assert isinstance(error, WrongPin)
    assert error.message.endswith("one more wrong PIN locks the token.")


def test_an_expired_pin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(login(monkeypatch, tmp_path, FakeToken(ckr.PinExpired())), PinExpired)


@pytest.mark.parametrize(
    "error",
    [
        ckr.DeviceRemoved(),
        ckr.TokenNotPresent(),
        ckr.SessionHandleInvalid(),
        ckr.SessionClosed(),
        ckr.DeviceError(),
    ],
)
def test_removal_codes(error: ckr.PKCS11Error) -> None:
    translated = translate(error, "eToken")
    assert isinstance(translated, TokenRemoved)
    assert translated.message.startswith("The token eToken was removed or stopped answering. Plug it back in")


def test_anything_else_is_a_signing_failure_naming_the_code() -> None:
    translated = translate(ckr.DataLenRange(), "eToken")
    assert isinstance(translated, SigningFailed) and "DataLenRange" in translated.message
