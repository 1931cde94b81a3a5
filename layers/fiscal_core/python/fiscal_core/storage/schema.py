"""Table definitions derived from the PynamoDB models.

CDK (infra/) and the local AWS plane (local/) both build their tables from these specs, so the
code that reads and writes items and the tables that hold them cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pynamodb.models import Model

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A key attribute: its name in DynamoDB and its scalar type."""

    name: str
    type: KeyType


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A global or local secondary index."""

    name: str
    hash_key: KeySpec
    range_key: KeySpec | None
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"]
    non_key_attributes: tuple[str, ...] = ()
    local: bool = False


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Everything CloudFormation or CreateTable needs to create one model's table."""

    logical_name: str
    hash_key: KeySpec
    range_key: KeySpec | None
    indexes: tuple[IndexSpec, ...] = field(default=())
    ttl_attribute: str | None = None


def _key(schema_keys: list[dict[str, str]], types: dict[str, KeyType], kind: str) -> KeySpec | None:
    for entry in schema_keys:
        if entry["KeyType"] == kind:
            name = entry["AttributeName"]
            return KeySpec(name, types[name])
    return None


def table_spec(model: type[Model], logical_name: str) -> TableSpec:
    """Derive the table definition of one PynamoDB model (keys, indexes, TTL)."""
    # PynamoDB's TypedDicts mix its own key names with botocore's; read it as plain data.
    schema = cast(dict[str, Any], model._get_schema())
    types: dict[str, KeyType] = {
        d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]
    }
    hash_key = _key(schema["key_schema"], types, "HASH")
    assert hash_key is not None, f"{model.__name__} has no hash key"
    indexes: list[IndexSpec] = []
    for kind in ("global_secondary_indexes", "local_secondary_indexes"):
        for index in schema[kind]:
            for d in index.get("attribute_definitions", ()):
                types[d["AttributeName"]] = d["AttributeType"]
            index_hash = _key(index["key_schema"], types, "HASH")
            assert index_hash is not None
            projection = index["projection"]
            indexes.append(
                IndexSpec(
                    name=index["index_name"],
                    hash_key=index_hash,
                    range_key=_key(index["key_schema"], types, "RANGE"),
                    projection=projection["ProjectionType"],
                    non_key_attributes=tuple(projection.get("NonKeyAttributes", ())),
                    local=kind == "local_secondary_indexes",
                )
            )
    ttl = model._ttl_attribute()  # type: ignore[no-untyped-call]
    return TableSpec(
        logical_name=logical_name,
        hash_key=hash_key,
        range_key=_key(schema["key_schema"], types, "RANGE"),
        indexes=tuple(sorted(indexes, key=lambda i: i.name)),
        ttl_attribute=ttl.attr_name if ttl is not None else None,
    )
