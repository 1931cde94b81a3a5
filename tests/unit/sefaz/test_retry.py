"""The retry loop: transient errors are retried with bounded jittered waits, the rest raised at once."""

from __future__ import annotations

import pytest

from fiscal_core.sefaz.errors import (
    ConnectionFailed,
    HttpStatusError,
    MalformedResponse,
    SefazError,
    SoapFault,
    Timeout,
    TlsFailure,
)
from fiscal_core.sefaz.retry import RetryPolicy, with_retries

URL = "https://example.invalid/x"


class Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: SefazError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.parametrize(
    "error", [ConnectionFailed(URL, "reset"), Timeout(URL, "slow"), HttpStatusError(URL, 503, "busy")]
)
def test_transient_errors_are_retried(error: SefazError) -> None:
    waits: list[float] = []
    call = Flaky(error, error)
    assert with_retries(call, RetryPolicy(attempts=3), sleep=waits.append, draw=lambda: 0.5) == "ok"
    assert call.calls == 3
    assert waits == [0.5, 1.0]  # half of the bounds 1 s and 2 s


def _never(seconds: float) -> None:
    pytest.fail(f"a final error was retried after {seconds} s")


@pytest.mark.parametrize(
    "error",
    [
        HttpStatusError(URL, 404, "not found"),
        SoapFault("soap:Sender", "Server was unable to read request."),
        TlsFailure(URL, "certificate unknown"),
        MalformedResponse("not XML"),
    ],
)
def test_final_errors_are_raised_at_once(error: SefazError) -> None:
    call = Flaky(error)
    with pytest.raises(type(error)):
        with_retries(call, RetryPolicy(attempts=5), sleep=_never)
    assert call.calls == 1


def test_attempts_are_bounded_and_the_last_error_surfaces() -> None:
    call = Flaky(*[Timeout(URL, f"try {n}") for n in range(10)])
    with pytest.raises(Timeout, match="try 2"):
        with_retries(call, RetryPolicy(attempts=3), sleep=lambda _: None)
    assert call.calls == 3


def test_waits_grow_exponentially_up_to_the_cap_with_full_jitter() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=5.0)
    assert [policy.delay(n, lambda: 0.999) for n in range(1, 6)] == pytest.approx(
        [0.999, 1.998, 3.996, 4.995, 4.995]
    )
    assert policy.delay(4, lambda: 0.0) == 0.0


def test_a_policy_makes_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RetryPolicy(attempts=0)
