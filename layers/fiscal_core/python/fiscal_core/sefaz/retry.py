"""The one retry loop of the SEFAZ/ADN clients: retry what ``SefazError.retryable`` says, with jitter.

Connection failures, timeouts and 5xx answers are retried a bounded number of times with "full
jitter" exponential backoff (a random wait up to the exponential bound), so many Lambdas that
failed together do not retry together. Everything else (4xx, SOAP faults, TLS failures, unreadable
answers) is raised at once. Rejections with a cStat are answers, not errors, and are never retried
here: waiting an hour for a 656 is the workflow's business.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fiscal_core.sefaz.errors import SefazError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts in all, and the exponential bound of the wait before each retry.

    The worst case is ``attempts`` times the transport's timeouts plus the waits: keep it inside
    the Lambda's timeout.
    """

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 15.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy makes at least one attempt, got {self.attempts}")

    def delay(self, retry: int, draw: Callable[[], float]) -> float:
        """The wait before retry number ``retry`` (1-based): ``draw()`` in [0, 1) times the bound."""
        return draw() * min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))


DEFAULT_RETRY = RetryPolicy()


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy = DEFAULT_RETRY,
    *,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> T:
    """Run ``call``; on a retryable SefazError wait and run it again, up to ``policy.attempts``."""
    attempt = 1
    while True:
        try:
            return call()
        except SefazError as exc:
            if not exc.retryable or attempt >= policy.attempts:
                raise
        sleep(policy.delay(attempt, draw))
        attempt += 1
