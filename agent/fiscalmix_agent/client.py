"""The agent's connection to the cloud bridge (an API Gateway WebSocket API), kept up for good.

API Gateway closes a connection after 10 minutes without a data message and after 2 hours in any
case (protocol pings count for neither), so the agent:

- sends a ``heartbeat`` data message every 4 minutes;
- reconnects on its own before the 2-hour limit (at 110 minutes): it stops taking new requests
  (answering them ``reconnecting``, which the cloud retries), lets those in flight finish, closes
  and connects again at once;
- after any drop, reconnects with exponential backoff and jitter (so a restarted bridge is not
  stormed by every agent at the same second), reset once a connection has proved stable;
- keeps answers it could not send (the connection dropped mid-request) and sends them on the next
  connection: the SEFAZ exchange behind them already happened.

A 401 or 403 on the opening handshake means the credential was revoked or never valid: retrying
cannot help, so :class:`AuthenticationRefused` ends the run.

Outgoing messages go in frames of at most 32 KB; incoming ones are capped at API Gateway's
128 KB message and 32 KB frame quotas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import random
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from fiscalmix_agent import __version__
from fiscalmix_agent.errors import AgentError, AuthenticationRefused
from fiscalmix_agent.protocol import (
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    Invalid,
    Message,
    Paired,
    SefazRequest,
    SignXml,
    Unknown,
    encode,
    frames,
    parse,
    response_error,
)
from fiscalmix_agent.service import RequestService

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"fiscalmix-agent/{__version__} ({platform.system()}; Python {platform.python_version()})"
_REFUSED_STATUSES: Final = frozenset({401, 403})
_MAX_UNSENT: Final = 50


class Reconnecting(AgentError):
    """A request arrived while the agent was recycling its connection; the cloud sends it again."""

    code = "reconnecting"
    retryable = True


class UnknownAction(AgentError):
    """A request whose action this agent version does not serve."""

    code = "unknown_action"


@dataclass(frozen=True)
class Timing:
    """The clock of the connection; the defaults fit API Gateway's quotas, tests shorten them."""

    heartbeat_s: float = 240.0  # well inside the 10-minute idle timeout
    recycle_after_s: float = 110 * 60.0  # before the 2-hour connection limit
    drain_s: float = 300.0  # how long requests in flight may delay a recycle
    backoff_base_s: float = 1.0
    backoff_max_s: float = 120.0
    stable_after_s: float = 60.0  # a connection that lasted this long resets the backoff
    open_timeout_s: float = 30.0  # API Gateway's $connect may take its 29-second integration timeout
    ping_interval_s: float | None = 30.0  # protocol pings detect a dead TCP path; they are not activity


class Backoff:
    """Exponential delays with "equal jitter": half fixed, half random, capped."""

    def __init__(self, base_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._base, self._max = base_s, max_s
        self._attempt = 0
        self._random = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the ceiling up to the cap."""
        ceiling = min(self._max, self._base * 2.0**self._attempt)
        self._attempt += 1
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """Start again from the base delay."""
        self._attempt = 0


def bridge_url(server: str, query: dict[str, str] | None = None) -> str:
    """``server`` with ``query`` added; ``https``/``http`` are taken as ``wss``/``ws``."""
    parts = urlsplit(server)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    extra = urlencode(query or {})
    joined = "&".join(q for q in (parts.query, extra) if q)
    return urlunsplit((scheme, parts.netloc, parts.path, joined, ""))


@contextlib.asynccontextmanager
async def open_bridge(url: str, credential: str, timing: Timing) -> AsyncIterator[ClientConnection]:
    """Open the WebSocket with the agent's credential; AuthenticationRefused on 401/403."""
    try:
        connection = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {credential}"},
            user_agent_header=USER_AGENT,
            compression=None,  # API Gateway negotiates none; sizes are counted as sent
            max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES),
            open_timeout=timing.open_timeout_s,
            ping_interval=timing.ping_interval_s,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in _REFUSED_STATUSES:
            raise AuthenticationRefused(
                f"The bridge refused this agent (HTTP {status}): its credential was revoked or is not "
                "valid. Pair the agent again with `fiscalmix-agent pair`."
            ) from exc
        raise
    try:
        yield connection
    finally:
        await connection.close()


class AgentClient:
    """Serves the cloud's requests over the bridge until :meth:`run`'s ``stop`` is set."""

    def __init__(
        self,
        url: str,
        credential: str,
        service: RequestService,
        *,
        timing: Timing | None = None,
        max_concurrent: int = 4,
    ) -> None:
        self._url = url
        self._credential = credential
        self._service = service
        self._timing = timing or Timing()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._backoff = Backoff(self._timing.backoff_base_s, self._timing.backoff_max_s)
        self._unsent: deque[str] = deque(maxlen=_MAX_UNSENT)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._draining = False
        self._current: ClientConnection | None = None  # where answers go; None between connections
        self.connections = 0  # how many times the bridge accepted this agent, for the curious and tests

    def __repr__(self) -> str:
        return f"AgentClient(url={self._url!r}, connections={self.connections})"

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, serve, reconnect; return once ``stop`` is set. AuthenticationRefused ends it early."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            recycled = False
            try:
                recycled = await self._connection(stop)
            except AuthenticationRefused:
                raise
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                logger.warning("bridge connection failed or dropped: %s", exc or type(exc).__name__)
            if stop.is_set():
                return
            if recycled or loop.time() - started >= self._timing.stable_after_s:
                self._backoff.reset()
            if recycled:
                continue
            delay = self._backoff.next_delay()
            logger.info("reconnecting to the bridge in %.1f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _connection(self, stop: asyncio.Event) -> bool:
        """One connection, from opening to close; True when it ended by a planned recycle."""
        async with open_bridge(self._url, self._credential, self._timing) as socket:
            self.connections += 1
            self._draining = False
            logger.info("connected to the bridge")
            await self._send(socket, await asyncio.to_thread(self._service.hello))
            await self._flush_unsent(socket)
            self._current = socket
            heartbeat = asyncio.create_task(self._heartbeats(socket))
            try:
                return await self._serve(socket, stop)
            finally:
                self._current = None
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await heartbeat

    async def _serve(self, socket: ClientConnection, stop: asyncio.Event) -> bool:
        loop = asyncio.get_running_loop()
        recycle_at = loop.time() + self._timing.recycle_after_s
        stopping = asyncio.create_task(stop.wait())
        try:
            while True:
                if loop.time() >= recycle_at and not self._draining:
                    logger.info("recycling the connection before API Gateway's 2-hour limit")
                    self._draining = True
                    recycle_at = loop.time() + self._timing.drain_s
                if self._draining and (not self._in_flight or loop.time() >= recycle_at):
                    await socket.close(1000, "recycling before the connection time limit")
                    return True
                receiving = asyncio.create_task(socket.recv())
                # While draining, a request finishing is also a reason to look again.
                watched = {receiving, stopping, *(self._in_flight if self._draining else ())}
                done, _ = await asyncio.wait(
                    watched,
                    timeout=max(0.0, recycle_at - loop.time()) + 0.01,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stopping in done:
                    receiving.cancel()
                    await socket.close(1000, "agent stopping")
                    return False
                if receiving in done:
                    await self._dispatch(socket, receiving.result())
                else:
                    receiving.cancel()
        finally:
            stopping.cancel()

    async def _dispatch(self, socket: ClientConnection, raw: str | bytes) -> None:
        parsed = parse(raw)
        if isinstance(parsed, SignXml | SefazRequest):
            if self._draining:
                await self._send(
                    socket, response_error(parsed.id, Reconnecting("the agent is reconnecting; send again"))
                )
                return
            task = asyncio.create_task(self._answer(parsed))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        elif isinstance(parsed, Invalid):
            await self._send(socket, response_error(parsed.id, parsed.error))
        elif isinstance(parsed, Paired):
            await self._send(socket, response_error(parsed.id, UnknownAction("this agent is already paired")))
        elif parsed.id is not None:
            await self._send(
                socket, response_error(parsed.id, UnknownAction(f"unknown action {parsed.action!r}"))
            )
        else:
            self._note(parsed)

    @staticmethod
    def _note(message: Unknown) -> None:
        # API Gateway's own frames ({"message": "Forbidden", ...}) when a route is missing or fails.
        logger.warning("message from the bridge without an id: %s", dict(message.raw))

    async def _answer(self, request: SignXml | SefazRequest) -> None:
        async with self._slots:
            answer = encode(await asyncio.to_thread(self._service.handle, request))
        # The connection the request came on may be gone by now; the answer takes the current one.
        socket = self._current
        if socket is not None:
            try:
                await _send_text(socket, answer)
                return
            except ConnectionClosed:
                pass
        logger.warning("no connection to answer %s; the answer waits for the next one", request.id)
        self._unsent.append(answer)

    async def _heartbeats(self, socket: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self._timing.heartbeat_s)
            await self._send(socket, await asyncio.to_thread(self._service.heartbeat))

    @staticmethod
    async def _send(socket: ClientConnection, message: Message) -> None:
        await _send_text(socket, encode(message))

    async def _flush_unsent(self, socket: ClientConnection) -> None:
        while self._unsent:
            await _send_text(socket, self._unsent[0])
            self._unsent.popleft()


async def _send_text(socket: ClientConnection, text: str) -> None:
    """One message, fragmented into frames of at most 32 KB when longer."""
    parts = frames(text)
    await socket.send(parts[0] if len(parts) == 1 else parts)
