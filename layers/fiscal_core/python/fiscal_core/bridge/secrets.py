"""The bridge's two secrets, agent credentials and pairing codes: checked, and hashed, never kept.

Both are made up by the agent (agent/fiscalmix_agent/pairing.py) with far more entropy than a
password, so a plain SHA-256 (hex of the UTF-8 text, as agent/PROTOCOL.md says) is what the
cloud stores and compares; a leaked table yields neither.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Final

from fiscal_core.storage.ids import new_sortable_id

CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
CREDENTIAL_PREFIX: Final = "fmxa_"
AGENT_ID_PREFIX: Final = "agt_"
_CODE: Final = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
# fmxa_ + 256 bits in URL-safe base64 (43 characters); a little slack, nothing else accepted.
_CREDENTIAL: Final = re.compile(r"fmxa_[A-Za-z0-9_-]{40,64}")
# What people type between the characters of a code they read off a screen.
_SEPARATORS: Final = re.compile(r"[\s-]+")


def secret_hash(secret: str) -> str:
    """SHA-256 hex of the UTF-8 text: what is stored and compared for codes and credentials."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_code(typed: str) -> str | None:
    """The pairing code a person typed (any case, spaces or dashes), or None if it cannot be one."""
    code = _SEPARATORS.sub("", typed).upper()
    return code if _CODE.fullmatch(code) else None


def is_credential(text: str) -> bool:
    """Whether ``text`` has the shape of an agent credential (its value is checked by hash)."""
    return _CREDENTIAL.fullmatch(text) is not None


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def new_agent_id(at: datetime) -> str:
    """``agt_`` and a time-sortable id."""
    return AGENT_ID_PREFIX + new_sortable_id(at)
