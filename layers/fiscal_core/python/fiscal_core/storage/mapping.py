"""Copy between a model item and a dataclass record whose fields share the item's names."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from pynamodb.attributes import MapAttribute
from pynamodb.models import Model

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def record_from(item: Model, cls: type[R]) -> R:
    """The record ``cls`` filled from the same-named attributes of ``item``."""
    return cls(**{f.name: plain(getattr(item, f.name)) for f in dataclasses.fields(cls)})


def plain(value: Any) -> Any:
    """A free-form MapAttribute as the plain dict records hold; any other value unchanged."""
    return value.as_dict() if isinstance(value, MapAttribute) else value  # type: ignore[no-untyped-call]


def item_values(record: DataclassInstance) -> dict[str, Any]:
    """The record's fields by name, to build an item from."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
