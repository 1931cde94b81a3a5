"""The domain's exception types; adapters translate SDK and protocol errors into these."""

from __future__ import annotations


class FiscalMixError(Exception):
    """Base of every error FiscalMix raises on purpose; its message is meant for a user."""


class InvalidValue(FiscalMixError, ValueError):
    """A value failed validation: names the field and says what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class DocumentError(FiscalMixError):
    """An XML document could not be read: malformed, hostile, too large or truncated."""


class UnsupportedDocument(DocumentError):
    """Well-formed XML that is not a fiscal document FiscalMix knows how to read."""


class EncryptionError(FiscalMixError):
    """Envelope encryption failed: wrong context, tampered ciphertext or unavailable key."""
