"""What every FiscalMix model shares: an unbound placeholder table until ``bind_tables`` runs."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

_M = TypeVar("_M", bound=Model)

UNBOUND_PREFIX = "UNBOUND"


def placeholder_table(logical_name: str) -> str:
    """The table name a model declares before ``tables.bind_tables`` gives it the real one.

    No model reads the environment at import time; a call made before binding fails on a table
    called ``UNBOUND-<logical>``, which names the mistake.
    """
    return f"{UNBOUND_PREFIX}-{logical_name}"


def include(*attributes: str) -> IncludeProjection:
    """An INCLUDE projection: the index carries the keys and only what its screen shows."""
    return IncludeProjection(list(attributes))


class GlobalIndex(GlobalSecondaryIndex[_M]):  # type: ignore[no-untyped-call]
    """A global secondary index whose subclasses type-check (PynamoDB's hook is untyped)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # type: ignore[no-untyped-call]
