"""Fault-injection points: the places where a test can make a sync run die, to prove it recovers.

The worker calls :meth:`CrashPoints.reached` at each point; production passes :data:`NO_CRASHES`.
A test passes :class:`CrashAt`, which raises :class:`SimulatedCrash` there, as a Lambda killed by a
timeout or an out-of-memory would stop, and then checks that the next run loses and duplicates
nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Protocol


class CrashPoint(StrEnum):
    """Where a run can be made to die."""

    AFTER_S3_WRITE = "after_s3_write"  # the page's XML is in S3, no record written yet
    AFTER_RECORD_WRITE = "after_record_write"  # records written, the cursor not advanced
    BEFORE_CURSOR_WRITE = "before_cursor_write"  # the page is durable, the cursor write is next
    HOLDING_LEASE = "holding_lease"  # the lease is held and nothing else has happened


class CrashPoints(Protocol):
    """Told each time the worker passes a crash point."""

    def reached(self, point: CrashPoint) -> None:
        """Return to go on; raise to crash the run at ``point``."""
        ...


class NoCrashes:
    """The production hook: never crashes."""

    def reached(self, point: CrashPoint) -> None:
        """Do nothing."""


NO_CRASHES: Final = NoCrashes()


class SimulatedCrash(Exception):
    """Raised by :class:`CrashAt`; deliberately not a FiscalMixError, so nothing handles it as one."""


class CrashAt:
    """Crash the first ``times`` times the run reaches ``point``, then let it pass."""

    def __init__(self, point: CrashPoint, times: int = 1) -> None:
        self.point = point
        self.remaining = times

    def reached(self, point: CrashPoint) -> None:
        """Raise SimulatedCrash at the chosen point while crashes remain."""
        if point is self.point and self.remaining > 0:
            self.remaining -= 1
            raise SimulatedCrash(f"simulated crash at {point}")
