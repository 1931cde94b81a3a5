"""The few operations every simple repository repeats: create once, get, page through."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from fiscal_core.storage.errors import RecordExists, RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.pagination import check_limit, decode_cursor, encode_cursor

M = TypeVar("M", bound=Model)


def create(item: Model, what: str) -> None:
    """Write a new item; RecordExists if one with its key is already stored."""
    hash_key = _hash_attribute(type(item))
    with storage_call(f"create {what}"):
        try:
            item.save(condition=hash_key.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                raise RecordExists(f"{what} already exists") from exc
            raise


def get(model: type[M], hash_key: str, range_key: str | None, what: str) -> M:
    """The item with this key (strongly consistent), or RecordNotFound naming ``what``."""
    with storage_call(f"read {what}"):
        try:
            return model.get(hash_key, range_key, consistent_read=True)
        except DoesNotExist as exc:
            raise RecordNotFound(f"{what} was not found") from exc


def query_page(
    model: type[M],
    partition: str,
    *,
    what: str,
    index: Any = None,
    partition_attr: str | None = None,
    condition: Condition | None = None,
    limit: int = 50,
    cursor: str | None = None,
    newest_first: bool = False,
) -> tuple[list[M], str | None]:
    """One page of a Query on the table (or ``index``) and the cursor of the next one."""
    source = index if index is not None else model
    attr = partition_attr or _hash_attribute(model).attr_name
    with storage_call(f"list {what}"):
        results = source.query(
            partition,
            range_key_condition=condition,
            scan_index_forward=not newest_first,
            limit=check_limit(limit),
            last_evaluated_key=decode_cursor(cursor, attr, partition),
        )
        items = list(results)
    return items, encode_cursor(results.last_evaluated_key)


def _hash_attribute(model: type[Model]) -> Attribute[Any]:
    return next(a for a in model.get_attributes().values() if a.is_hash_key)
