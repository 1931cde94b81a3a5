"""EventBridge schedule expressions: ``rate(...)``, ``cron(...)`` and ``at(...)``.

Only what the local scheduler needs: the next time an expression fires after a given moment, in
UTC. Unsupported cron features (``L``, ``W``, ``#``) are refused with a clear error rather than
silently misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_CRON = re.compile(r"cron\((.+)\)")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}


class ScheduleExpressionError(ValueError):
    """An expression the local scheduler cannot read; the message says which part."""


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1))
    values: set[int] = set()
    for item in text.split(","):
        if any(mark in item for mark in ("L", "W", "#")) and not (names and item in names):
            raise ScheduleExpressionError(f"cron field {text!r}: L, W and # are not supported locally")
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not low <= start <= end <= high:
            raise ScheduleExpressionError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleExpressionError(f"cron value {text!r} is not a number")
    return int(text)


@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 1 = Sunday, as in AWS cron
    years: frozenset[int]
    any_day: bool
    any_weekday: bool

    def _day_matches(self, day: datetime) -> bool:
        weekday = (day.weekday() + 1) % 7 + 1  # Python: Monday 0 → AWS: Sunday 1
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return weekday in self.weekdays
        if self.any_weekday:
            return day.day in self.days
        return day.day in self.days or weekday in self.weekdays

    def next_after(self, moment: datetime) -> datetime:
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise ScheduleExpressionError("cron expression never fires in the next five years")


def _parse_cron(body: str) -> _Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleExpressionError("cron() takes six fields: minutes hours day month weekday year")
    minute, hour, day, month, weekday, year = fields
    if day != "?" and weekday != "?":
        raise ScheduleExpressionError("cron(): day-of-month or day-of-week must be '?'")
    return _Cron(
        minutes=_field(minute, 0, 59),
        hours=_field(hour, 0, 23),
        days=_field(day, 1, 31),
        months=_field(month, 1, 12, _MONTH_NAMES),
        weekdays=_field(weekday, 1, 7, _DAY_NAMES),
        years=_field(year, 1970, 2199),
        any_day=day in ("*", "?"),
        any_weekday=weekday in ("*", "?"),
    )


def next_fire_time(expression: str, after: datetime, first_fire: datetime | None = None) -> datetime | None:
    """When ``expression`` next fires strictly after ``after`` (UTC); None when it never will.

    A ``rate()`` counts from ``first_fire`` (the schedule's creation), as EventBridge does.
    """
    after = after.astimezone(UTC)
    if match := _RATE.fullmatch(expression):
        amount, unit = int(match[1]), match[2].rstrip("s")
        if amount < 1:
            raise ScheduleExpressionError("rate() needs a positive amount")
        period = timedelta(seconds=amount * _UNITS[unit])
        origin = (first_fire or after).astimezone(UTC)
        if origin > after:
            return origin
        periods = (after - origin) // period + 1
        return origin + periods * period
    if match := _AT.fullmatch(expression):
        when = datetime.fromisoformat(match[1]).replace(tzinfo=UTC)
        return when if when > after else None
    if match := _CRON.fullmatch(expression):
        return _parse_cron(match[1]).next_after(after)
    raise ScheduleExpressionError(f"{expression!r} is not a rate(), cron() or at() expression")
