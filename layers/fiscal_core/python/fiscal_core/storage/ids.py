"""Time-sortable ids (ULID layout) for records listed newest first: runs, exports, audit."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Final

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: sorts as it counts


def new_sortable_id(at: datetime) -> str:
    """26 characters: 48 bits of milliseconds since the epoch, then 80 random bits.

    String order is creation order (to the millisecond), so a sort key made of these ids
    lists records by time without a separate timestamp key.
    """
    millis = int(at.timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise ValueError(f"{at.isoformat()} is outside the id's time range")
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))
