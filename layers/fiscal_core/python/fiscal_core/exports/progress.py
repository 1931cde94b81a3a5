"""How often the worker writes progress to the job: every 2% of the documents or every 5 seconds.

Whichever comes first, so a small export still moves in visible steps and a large one never
looks stalled; and no more often, so a 100,000-document export costs about fifty writes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

STEP: Final = 0.02
INTERVAL_S: Final = 5.0


class ProgressThrottle:
    """Calls ``report`` when ``done`` has moved by a step or the interval has passed since the last call.

    Until the total is known (None: it is still being counted) only the interval applies.
    """

    def __init__(
        self,
        total: int | None,
        report: Callable[[], None],
        *,
        done: int = 0,
        clock: Callable[[], float] = time.monotonic,
        step: float = STEP,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._report = report
        self._clock = clock
        self._fraction = step
        self._step: int | None = None
        self._interval = interval_s
        if total is not None:
            self.set_total(total)
        self._last_done = done
        self._last_at = clock()

    def set_total(self, total: int) -> None:
        """The number of documents, once counted."""
        self._step = max(1, math.ceil(total * self._fraction))

    def update(self, done: int) -> None:
        """Note that ``done`` documents are done; report if it is time."""
        stepped = self._step is not None and done - self._last_done >= self._step
        if stepped or self._clock() - self._last_at >= self._interval:
            self.flush(done)

    def flush(self, done: int) -> None:
        """Report now."""
        self._report()
        self._last_done = done
        self._last_at = self._clock()
