"""The simulator's clock: frozen and moved by hand in tests, or running faster than real time.

SEFAZ rules are measured in hours (the 1 h wait after cStat 137, the 20 queries per hour) and
days (90-day retention, manifestação deadlines). A test cannot wait that long, so every rule in the
simulator reads this clock, never the system time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the simulated time (always timezone-aware)."""

    def now(self) -> datetime:
        """The current simulated time."""
        ...


class SimClock:
    """A controllable clock: ``now()`` is ``start`` plus what :meth:`advance` added, plus the real
    time elapsed multiplied by ``scale``.

    ``scale=0`` (the default) freezes the clock between calls to :meth:`advance`; ``scale=1`` runs in
    step with the wall clock; ``scale=3600`` makes an hour pass every real second.
    """

    def __init__(self, start: datetime | None = None, *, scale: float = 0.0) -> None:
        if start is not None and start.utcoffset() is None:
            raise ValueError(f"the clock needs a timezone-aware start, got {start!r}")
        if scale < 0:
            raise ValueError(f"the clock cannot run backwards (scale {scale})")
        self._lock = threading.Lock()
        self._origin = (start or datetime.now(UTC)).astimezone(UTC)
        self._offset = timedelta(0)
        self._scale = scale
        self._real_origin = time.monotonic()

    @property
    def scale(self) -> float:
        """How many simulated seconds pass per real second (0 when frozen)."""
        return self._scale

    def now(self) -> datetime:
        """The simulated time, in UTC."""
        with self._lock:
            return self._origin + self._offset + self._running()

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise ValueError(f"the clock only moves forward, got {delta}")
        with self._lock:
            self._offset += delta
            return self._origin + self._offset + self._running()

    def _running(self) -> timedelta:
        if not self._scale:
            return timedelta(0)
        return timedelta(seconds=(time.monotonic() - self._real_origin) * self._scale)
