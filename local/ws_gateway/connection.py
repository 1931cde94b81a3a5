"""One open WebSocket connection as API Gateway tracks it: who it is, when it was last active,
how data reaches it, and how it closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from local.ws_gateway.events import ConnectionInfo, now_ms
from local.ws_gateway.management import ConnectionGone


@dataclass
class OpenConnection:
    """A connection that passed ``$connect``; lives on the gateway's event loop only."""

    info: ConnectionInfo
    socket: ServerConnection
    max_frame_bytes: int
    opened_at: float = field(init=False)  # event-loop clock, for the connection duration limit
    last_active_at: float = field(init=False)  # event-loop clock, for the idle timeout
    last_active_ms: int = field(init=False)  # wall clock, for GetConnection's lastActiveAt

    def __post_init__(self) -> None:
        self.opened_at = self.last_active_at = asyncio.get_running_loop().time()
        self.last_active_ms = self.info.connected_at_ms

    @property
    def is_open(self) -> bool:
        """Whether data can still reach the client; a closing connection is already gone for AWS."""
        return self.socket.state is State.OPEN

    def touch(self) -> None:
        """Record a data message, in or out: only those keep a connection from idling out."""
        self.last_active_at = asyncio.get_running_loop().time()
        self.last_active_ms = now_ms()

    async def send(self, payload: bytes, *, text: bool) -> None:
        """Send one message, split into frames of at most ``max_frame_bytes`` as API Gateway splits it."""
        size = self.max_frame_bytes
        frames = [payload[start : start + size] for start in range(0, len(payload), size)] or [b""]
        try:
            await self.socket.send(frames[0] if len(frames) == 1 else frames, text=text)
        except ConnectionClosed as exc:
            raise ConnectionGone(f"connection {self.info.connection_id} is gone") from exc
        self.touch()

    def describe(self) -> dict[str, Any]:
        """GetConnection's answer; the wire names are camelCase (boto3 shows ConnectedAt, Identity...)."""
        identity = {"sourceIp": self.info.source_ip}
        if self.info.user_agent is not None:
            identity["userAgent"] = self.info.user_agent
        return {
            "connectedAt": _iso8601(self.info.connected_at_ms),
            "identity": identity,
            "lastActiveAt": _iso8601(self.last_active_ms),
        }

    def close_status(self) -> tuple[int, str]:
        """The close code and reason of whichever side closed first; 1006 if no close frame came."""
        protocol = self.socket.protocol
        sent, received = protocol.close_sent, protocol.close_rcvd
        first = received if received is not None and (sent is None or protocol.close_rcvd_then_sent) else sent
        if first is None:
            return int(CloseCode.ABNORMAL_CLOSURE), ""
        return int(first.code), first.reason


def _iso8601(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
