"""A stand-in for EventBridge Scheduler: fires the schedules CDK defines, on a scalable clock.

moto stores schedules but never fires them. This scheduler keeps a simulated clock that runs
``time_scale`` times faster than the real one (so an hourly sync can fire every few seconds in a
demo or a test) and invokes each schedule's target function with the schedule's input.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local.lambda_dispatch import LocalFunction
from local.lambda_runtime import invoke
from local.schedule_expressions import next_fire_time

log = logging.getLogger("fiscalmix.local.scheduler")


@dataclass(frozen=True)
class Schedule:
    """One schedule: its expression, the function it targets and the input it sends."""

    name: str
    expression: str
    function: LocalFunction
    input: str | None = None  # the target's Input, a JSON string, as in AWS::Scheduler::Schedule


@dataclass
class SimulatedClock:
    """A clock that starts at ``start`` and runs ``time_scale`` times faster than real time."""

    time_scale: float = 1.0
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    _real_start: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        """The simulated current time."""
        return self.start + timedelta(seconds=(time.monotonic() - self._real_start) * self.time_scale)

    def real_seconds_until(self, moment: datetime) -> float:
        """How long to sleep, in real seconds, until the simulated clock reaches ``moment``."""
        return max(0.0, (moment - self.now()).total_seconds() / self.time_scale)


def _event_for(schedule: Schedule, fired_at: datetime) -> dict[str, Any]:
    if schedule.input is not None:
        loaded: dict[str, Any] = json.loads(schedule.input)
        return loaded
    # Without an Input, targets receive the scheduled-event envelope.
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{schedule.name}"],
        "detail": {},
    }


class Scheduler:
    """Fires every schedule at its next time on the simulated clock, one thread for all."""

    def __init__(self, schedules: list[Schedule], clock: SimulatedClock | None = None) -> None:
        self.clock = clock or SimulatedClock()
        self._created = self.clock.now()
        self._schedules = schedules
        self._next: dict[str, datetime | None] = {
            s.name: next_fire_time(s.expression, self._created, self._created) for s in schedules
        }
        self.fired: list[tuple[str, datetime]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)

    def start(self) -> None:
        """Start firing schedules."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop; a target already running finishes first."""
        self._stop.set()
        self._thread.join(timeout)

    def fire(self, schedule: Schedule, at: datetime | None = None) -> Any:
        """Invoke ``schedule``'s target now, as its next firing would."""
        fired_at = at or self.clock.now()
        self.fired.append((schedule.name, fired_at))
        log.info("schedule %s fired (simulated time %s)", schedule.name, fired_at.isoformat())
        function = schedule.function
        return invoke(
            function.handler, _event_for(schedule, fired_at), function.name, function.timeout_seconds
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            due = [(when, s) for s in self._schedules if (when := self._next[s.name]) is not None]
            if not due:
                return
            when, schedule = min(due, key=lambda pair: pair[0])
            if self._stop.wait(min(self.clock.real_seconds_until(when), 1.0)):
                return
            if self.clock.now() < when:
                continue
            try:
                self.fire(schedule, when)
            except Exception:
                log.exception("schedule %s: target %s failed", schedule.name, schedule.function.name)
            self._next[schedule.name] = next_fire_time(schedule.expression, when, self._created)
