"""Messages to agents through API Gateway's ``@connections`` management API.

A post to a connection that closed answers 410 GoneException: the stale connection item is
deleted then, the one that was posted to (not whoever triggered the post: the canonical
chat sample deletes the sender's instead). Messages are compact ASCII JSON, as the agent writes
its own (agent/PROTOCOL.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from fiscal_core.bridge.errors import BridgeUnavailable
from fiscal_core.observability import logger
from fiscal_core.storage.agents import ConnectionRecord, ConnectionRepository

_GONE: Final = "GoneException"


def encode(message: Mapping[str, Any]) -> bytes:
    """A message as the protocol writes it: compact JSON, ASCII only."""
    return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class AgentChannel:
    """Posts to and closes agents' connections; the boto3 client is built on first use."""

    def __init__(self, client: Callable[[], Any], connections: ConnectionRepository) -> None:
        self._client_factory = client
        self._connections = connections

    @cached_property
    def _client(self) -> Any:
        return self._client_factory()

    def post(
        self, connection_id: str, message: Mapping[str, Any], *, owner: ConnectionRecord | None = None
    ) -> bool:
        """Send ``message``; False when the connection is gone (its item, if any, is deleted).

        ``owner`` is the connection's item when the caller has it (saves a lookup on 410).
        """
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=encode(message))
        except ClientError as exc:
            if _code(exc) != _GONE:
                raise BridgeUnavailable(f"could not post to an agent's connection: {_code(exc)}") from exc
            logger.info("agent connection gone; forgetting it", extra={"connection_id": connection_id})
            self._forget(connection_id, owner)
            return False
        except BotoCoreError as exc:
            raise BridgeUnavailable(f"could not post to an agent's connection: {exc}") from exc
        return True

    def close(self, connection_id: str) -> bool:
        """Close the connection now (its ``$disconnect`` follows); False when it was already gone."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if _code(exc) != _GONE:
                raise BridgeUnavailable(f"could not close an agent's connection: {_code(exc)}") from exc
            return False
        except BotoCoreError as exc:
            raise BridgeUnavailable(f"could not close an agent's connection: {exc}") from exc
        return True

    def _forget(self, connection_id: str, owner: ConnectionRecord | None) -> None:
        stale = owner if owner is not None else self._connections.by_connection_id(connection_id)
        if stale is not None and stale.connection_id == connection_id:
            self._connections.delete(stale.account_id, stale.agent_id, connection_id)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))
