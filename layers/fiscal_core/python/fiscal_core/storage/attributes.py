"""Attribute types shared by the models: exact money, strict UTC timestamps.

Every timestamp in every table is written in one format, PynamoDB's UTC form
``2024-05-01T12:00:00.000000+0000``: fixed width, so string order is time order, and the same
text appears inside composite sort keys (``NFE#IN#AUTHORIZED#<issued_at>``) as in plain
attributes. TTL attributes are the exception DynamoDB imposes: epoch seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pynamodb.attributes import Attribute, MapAttribute, UTCDateTimeAttribute
from pynamodb.constants import DATETIME_FORMAT, NUMBER

from fiscal_core.errors import InvalidValue


def format_ts(value: datetime) -> str:
    """The stored text of a timezone-aware datetime; InvalidValue on a naive one.

    PynamoDB would read a naive datetime as UTC, which silently shifts a local Brazilian time
    by three hours; refusing it makes the caller say which zone it meant.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue("timestamp", f"{value.isoformat()} has no time zone")
    # zfill as PynamoDB does: strftime pads years below 1000 differently per platform.
    return value.astimezone(UTC).strftime(DATETIME_FORMAT).zfill(31)


def utc_now() -> datetime:
    """The current time in UTC: the default clock of every repository."""
    return datetime.now(UTC)


def parse_ts(text: str) -> datetime:
    """The UTC datetime of text written by :func:`format_ts`."""
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=UTC)


class UTCTimestampAttribute(UTCDateTimeAttribute):
    """A UTC timestamp that refuses naive datetimes instead of guessing their zone."""

    def serialize(self, value: Any) -> str:
        """Write a timezone-aware datetime in the table-wide UTC format."""
        return format_ts(value)


class DecimalAttribute(Attribute[Decimal]):
    """An exact decimal stored as a DynamoDB number (money: ``total_value``).

    PynamoDB's NumberAttribute goes through ``float``, which cannot hold most cents exactly;
    DynamoDB numbers hold 38 significant digits, so the Decimal's text is written as is and
    read back equal (DynamoDB may drop trailing zeros: ``10.50`` reads as ``10.5``).
    """

    attr_type = NUMBER

    def serialize(self, value: Any) -> str:
        """Write the Decimal's exact text; refuse floats, NaN and infinities."""
        if not isinstance(value, Decimal):
            raise TypeError(f"expected Decimal, got {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite amount")
        return str(value)

    def deserialize(self, value: Any) -> Decimal:
        """Read a DynamoDB number back as the Decimal it was written from."""
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc


class IntegerAttribute(Attribute[int]):
    """A whole number (document number, counters) read back as ``int``, never ``float``."""

    attr_type = NUMBER

    def serialize(self, value: Any) -> str:
        """Write an int; refuse bool and float, which would pass PynamoDB's NumberAttribute."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"expected int, got {type(value).__name__}")
        return str(value)

    def deserialize(self, value: Any) -> int:
        """Read a DynamoDB number as an int."""
        return int(value)


def json_map() -> MapAttribute[str, Any]:
    """A free-form map attribute (filters, details, settings), empty by default."""
    # PynamoDB's MapAttribute constructor is untyped; this is the one place that says so.
    return MapAttribute(default=dict)  # type: ignore[no-untyped-call]
