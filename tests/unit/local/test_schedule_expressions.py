"""The local scheduler reads EventBridge expressions as EventBridge does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.schedule_expressions import ScheduleExpressionError, next_fire_time

T0 = datetime(2026, 11, 28, 10, 17, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 hour)", datetime(2026, 11, 28, 11, 17, 30, tzinfo=UTC)),
        ("rate(5 minutes)", datetime(2026, 11, 28, 10, 22, 30, tzinfo=UTC)),
        ("cron(0 * * * ? *)", datetime(2026, 11, 28, 11, 0, tzinfo=UTC)),
        ("cron(*/15 * * * ? *)", datetime(2026, 11, 28, 10, 30, tzinfo=UTC)),
        ("cron(0 3 ? * MON-FRI *)", datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),
        ("cron(30 9 1 * ? *)", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
        ("cron(0 0 ? * 1 *)", datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),  # 1 = Sunday
        ("at(2026-11-28T12:00:00)", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
    ],
)
def test_next_fire_time(expression: str, expected: datetime) -> None:
    assert next_fire_time(expression, T0, first_fire=T0) == expected


def test_rate_counts_from_the_schedule_creation() -> None:
    created = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert next_fire_time("rate(1 hour)", T0, created) == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


def test_past_at_never_fires() -> None:
    assert next_fire_time("at(2020-01-01T00:00:00)", T0) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("every hour", "is not a rate"),
        ("cron(0 * * *)", "six fields"),
        ("cron(0 * 1 * MON *)", "must be '?'"),
        ("cron(0 * L * ? *)", "not supported"),
        ("cron(0 25 * * ? *)", "outside 0-23"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleExpressionError, match=problem):
        next_fire_time(expression, T0)
