"""The local API Gateway WebSocket API: agents connect here and the route handlers run in-process.

A ``websockets`` server runs on its own event loop in its own thread, so synchronous code (the
``make run`` launcher, tests) can start and stop it. Handlers run in a thread pool through
:func:`local.lambda_runtime.invoke`, so a slow one never stalls the loop. What API Gateway
enforces is enforced here too, so that code that works locally does not break in AWS:

- ``$connect`` decides the opening handshake: a non-2xx status refuses it with that status, a
  handler that raises or returns no proxy response gets 502, and a ``Sec-WebSocket-Protocol``
  header in its response selects the subprotocol;
- a frame over 32 KB or a message over 128 KB closes the connection with 1009;
- 10 minutes without a data message in either direction close it with 1001 "Going away", and so
  does the 2-hour connection limit. Ping/pong control frames are answered, as RFC 6455 requires,
  but are not activity: API Gateway's idle timeout counts messages only (users report that
  protocol pings do not keep a connection open, e.g. andyrichardson/subscriptionless#3), so
  agents must heartbeat with data messages. The gateway never pings clients itself;
- no compression is negotiated, so frame and message sizes are counted as sent on the wire;
- each message is its own invocation, run concurrently with the others: API Gateway promises no
  ordering between them either;
- ``@connections`` data over 32 KB reaches the client in 32 KB fragments, as API Gateway splits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import CancelledError, ThreadPoolExecutor
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State

from local.lambda_runtime import invoke
from local.ws_gateway.config import WsApiConfig, WsRoute
from local.ws_gateway.connection import OpenConnection
from local.ws_gateway.events import (
    ConnectionInfo,
    Event,
    ProxyResponse,
    connect_event,
    disconnect_event,
    gateway_error_frame,
    message_event,
    new_aws_id,
    now_ms,
    route_response_body,
)
from local.ws_gateway.management import ConnectionGone, ManagementServer, PayloadTooLarge
from local.ws_gateway.routing import CONNECT_ROUTE, DISCONNECT_ROUTE

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# API Gateway's integration timeout; handlers see it through context.get_remaining_time_in_millis().
INTEGRATION_TIMEOUT_S = 29.0
# The opening handshake waits for $connect, so it may take as long as an integration may.
_OPEN_TIMEOUT_S = INTEGRATION_TIMEOUT_S + 1.0
_T = TypeVar("_T")


class WsGateway:
    """A local WebSocket API: agents connect to :attr:`url`, boto3 reaches :attr:`management_url`.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. It binds 127.0.0.1 only;
    ports default to 0 (any free port) and the real ones appear in the URLs once started.
    """

    def __init__(
        self, config: WsApiConfig, *, port: int = 0, management_port: int = 0, lambda_workers: int = 4
    ) -> None:
        self._config = config
        self._port = port
        self._management_port = management_port
        self._executor = ThreadPoolExecutor(lambda_workers, thread_name_prefix="ws-lambda")
        self._management: ManagementServer | None = None
        self._thread = threading.Thread(target=self._run, name="ws-gateway", daemon=True)
        self._ready = threading.Event()
        # Set before the loop is told to stop, so no call can be scheduled on a loop that is ending.
        self._stopping_requested = threading.Event()
        self._error: Exception | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        # Both maps are touched only on the gateway's loop; other threads go through _call().
        self._connections: dict[str, OpenConnection] = {}
        self._by_socket: dict[ServerConnection, OpenConnection] = {}

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/<stage>``, where clients connect; the stage path is required as in AWS."""
        if not self._ready.is_set():
            raise RuntimeError("the gateway is not started")
        return f"ws://{LOOPBACK}:{self._port}/{self._config.stage}"

    @property
    def management_url(self) -> str:
        """``http://127.0.0.1:<port>/<stage>``: the ``endpoint_url`` for ``apigatewaymanagementapi``."""
        if self._management is None:
            raise RuntimeError("the gateway is not started")
        return self._management.url

    def start(self) -> None:
        """Bind both servers and return once they accept connections."""
        self._management = ManagementServer(self, self._config.stage, self._management_port)
        self._management.start()
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self.stop()
            raise RuntimeError("the WebSocket gateway could not start") from self._error

    def stop(self) -> None:
        """Close every connection with 1001 (their ``$disconnect`` runs), stop both servers, join threads."""
        self._stopping_requested.set()
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread.ident is not None:
            self._thread.join()
        if self._management is not None:
            self._management.stop()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> WsGateway:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # The @connections operations, called from the management server's threads (or any thread
    # but the gateway's own loop).

    def post_to_connection(self, connection_id: str, data: bytes) -> None:
        """Send ``data`` as a text message if it is UTF-8, else as binary; see ManagementServer."""
        if len(data) > self._config.max_message_bytes:
            raise PayloadTooLarge(f"{len(data)} bytes exceed the {self._config.max_message_bytes}-byte quota")
        self._call(self._post(connection_id, data))

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        """What GetConnection answers: ``connectedAt``, ``identity`` and ``lastActiveAt``."""
        return self._call(self._describe(connection_id))

    def delete_connection(self, connection_id: str) -> None:
        """Close the connection with 1000; its ``$disconnect`` follows."""
        self._call(self._close(connection_id))

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the gateway's loop and wait for it; every connection is gone once stopping."""
        if self._loop is None or self._stopping_requested.is_set():
            coroutine.close()
            raise ConnectionGone("the gateway is not running")
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()
        except CancelledError as exc:  # cancelled by the loop's shutdown
            raise ConnectionGone("the gateway is not running") from exc

    def _run(self) -> None:
        try:
            asyncio.run(self._serve_until_stopped())
        except Exception as exc:  # start() re-raises it; a thread has nobody else to tell
            self._error = exc
        finally:
            self._ready.set()

    async def _serve_until_stopped(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(
            self._serve_connection,
            LOOPBACK,
            self._port,
            process_request=self._check_path,
            process_response=self._open,
            compression=None,
            ping_interval=None,
            max_size=(self._config.max_message_bytes, self._config.max_frame_bytes),
            open_timeout=_OPEN_TIMEOUT_S,
        ) as server:
            self._port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopping.wait()

    def _check_path(self, socket: ServerConnection, request: Request) -> Response | None:
        """Refuse any path but the stage's, as API Gateway answers 403 for an unknown stage."""
        if urlsplit(request.path).path.rstrip("/") == f"/{self._config.stage}":
            return None
        return _http_response(HTTPStatus.FORBIDDEN, '{"message": "Forbidden"}')

    async def _open(self, socket: ServerConnection, request: Request, response: Response) -> Response | None:
        """Run ``$connect`` once the upgrade request is known valid; its answer decides the handshake."""
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            return None
        info = ConnectionInfo(
            connection_id=new_aws_id(),
            connected_at_ms=now_ms(),
            source_ip=socket.remote_address[0],
            user_agent=request.headers.get("User-Agent"),
            domain_name=request.headers.get("Host", LOOPBACK),
        )
        route = self._config.route(CONNECT_ROUTE)
        if route is not None:
            query = parse_qsl(urlsplit(request.path).query, keep_blank_values=True)
            event = connect_event(
                self._config, info, request.headers.raw_items(), query, socket.local_address[1]
            )
            try:
                outcome = ProxyResponse.parse(await self._invoke(route, event))
            except Exception:
                logger.exception("$connect handler %s failed or answered malformed", route.function_name)
                return _http_response(HTTPStatus.BAD_GATEWAY, '{"message": "Internal server error"}')
            if not outcome.accepted:
                return _http_response(outcome.status_code, outcome.body)
            subprotocol = outcome.header("Sec-WebSocket-Protocol")
            if subprotocol is not None:
                response.headers["Sec-WebSocket-Protocol"] = subprotocol
        if socket.state is not State.CONNECTING:
            return None  # the client left during $connect: the handshake is dropped, nothing opened
        # Registered before the 101 goes out (nothing awaits in between), so the connection id
        # $connect stored is postable the moment the client sees the handshake succeed.
        connection = OpenConnection(info, socket, self._config.max_frame_bytes)
        self._connections[info.connection_id] = connection
        self._by_socket[socket] = connection
        return None

    async def _serve_connection(self, socket: ServerConnection) -> None:
        connection = self._by_socket[socket]
        limits = asyncio.create_task(self._enforce_time_limits(connection))
        in_flight: set[asyncio.Task[None]] = set()
        try:
            # An oversized frame or message ends the loop with ConnectionClosedError (1009); that is
            # a close like any other here.
            with contextlib.suppress(ConnectionClosedError):
                async for message in socket:
                    connection.touch()
                    task = asyncio.create_task(self._route(connection, message))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        finally:
            await socket.wait_closed()
            limits.cancel()
            del self._connections[connection.info.connection_id], self._by_socket[socket]
            if in_flight:
                await asyncio.wait(in_flight)
            await self._disconnect(connection)

    async def _enforce_time_limits(self, connection: OpenConnection) -> None:
        """Close with 1001 once the connection has idled or lived too long, as API Gateway does."""
        loop = asyncio.get_running_loop()
        expires_at = connection.opened_at + self._config.max_connection_s
        while True:
            idles_at = connection.last_active_at + self._config.idle_timeout_s
            delay = min(idles_at, expires_at) - loop.time()
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        await connection.socket.close(CloseCode.GOING_AWAY, "Going away")

    async def _route(self, connection: OpenConnection, message: str | bytes) -> None:
        """Invoke the route ``message`` selects, answering as API Gateway does when none or it fails."""
        connection_id = connection.info.connection_id
        route = self._config.select_route(message)
        if route is None:
            forbidden = gateway_error_frame("Forbidden", connection_id, new_aws_id())
            await self._send_if_open(connection, forbidden)
            return
        event = message_event(self._config, connection.info, route.route_key, message)
        try:
            result = await self._invoke(route, event)
        except Exception:
            logger.exception("route %s: handler %s failed", route.route_key, route.function_name)
            request_id = event["requestContext"]["requestId"]
            await self._send_if_open(
                connection, gateway_error_frame("Internal server error", connection_id, request_id)
            )
            return
        body = route_response_body(result) if route.two_way else None
        if body is not None:
            await self._send_if_open(connection, body)

    async def _disconnect(self, connection: OpenConnection) -> None:
        route = self._config.route(DISCONNECT_ROUTE)
        if route is None:
            return
        code, reason = connection.close_status()
        try:
            await self._invoke(route, disconnect_event(self._config, connection.info, code, reason))
        except Exception:  # best effort, as in AWS: nobody is left to tell
            logger.exception("$disconnect handler %s failed", route.function_name)

    async def _invoke(self, route: WsRoute, event: Event) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, invoke, route.handler, event, route.function_name, INTEGRATION_TIMEOUT_S
        )

    async def _post(self, connection_id: str, data: bytes) -> None:
        await self._open_connection(connection_id).send(data, text=_is_utf8(data))

    async def _describe(self, connection_id: str) -> dict[str, Any]:
        return self._open_connection(connection_id).describe()

    async def _close(self, connection_id: str) -> None:
        await self._open_connection(connection_id).socket.close(CloseCode.NORMAL_CLOSURE)

    def _open_connection(self, connection_id: str) -> OpenConnection:
        connection = self._connections.get(connection_id)
        if connection is None or not connection.is_open:
            raise ConnectionGone(f"connection {connection_id} is gone")
        return connection

    async def _send_if_open(self, connection: OpenConnection, message: str) -> None:
        with contextlib.suppress(ConnectionGone):  # the client left meanwhile; AWS drops it too
            await connection.send(message.encode(), text=True)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _http_response(status: int, body: str) -> Response:
    """A plain HTTP answer to a handshake; any status, as a $connect handler may choose any."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    data = body.encode()
    headers = Headers([("Connection", "close"), ("Content-Length", str(len(data)))])
    return Response(status, phrase, headers, data)
